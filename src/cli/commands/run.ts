import net from 'node:net';
import { Command, InvalidArgumentError, Option } from 'commander';
import { splitList } from '../../domain/list.js';
import { durationParser, parseBool } from '../values.js';
import { DEFAULT_CLOSE_TIMEOUT_MS, runUntilSignal } from '../../daemon.js';
import { createLogger, exitAfterLogs } from '../../log/logger.js';
import { isValidTag } from '../../registrar/service-definitions.js';
import { addCommonOptions, jsonLogs } from '../common-options.js';
import { buildDaemon, type RunOptions } from '../compose.js';
import { addHttpOptions } from '../http-options.js';
import { addRenderOptions } from '../render-flags.js';

const NODE_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.@-]{0,99}$/;
const LABEL_KEY = /^[a-zA-Z0-9][a-zA-Z0-9_.\-/]{0,127}$/;

function pattern(re: RegExp, what: string) {
  return (value: string): string => {
    if (!re.test(value)) throw new InvalidArgumentError(`expected ${what}, got "${value}"`);
    return value;
  };
}

function parseIp(value: string): string {
  if (net.isIP(value) === 0) throw new InvalidArgumentError(`expected an IPv4 or IPv6 address, got "${value}"`);
  return value;
}

function parseTags(value: string): string[] {
  const tags = splitList(value);
  for (const t of tags)
    if (!isValidTag(t))
      throw new InvalidArgumentError(
        `expected comma-separated tags without spaces, quotes, braces or semicolons, got "${t}"`,
      );
  return tags;
}

/** A boolean flag that also reads true/false from its environment variable (a bare flag means true). */
function boolOption(flags: string, description: string, env: string): Option {
  return new Option(`${flags} [bool]`, description).env(env).argParser(parseBool).preset('true').default(false);
}

export function addRegisterOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--register [bool]', 'run the register role (Docker containers → Consul services)')
        .env('SWITCHYARD_REGISTER')
        .argParser(parseBool)
        .preset('true')
        .default(true),
    )
    .addOption(new Option('--no-register', 'do not register containers (a load-balancer host that runs no apps)'))
    .addOption(
      new Option(
        '--node-id <id>',
        'owner id written to every registration and the first part of service IDs; default: the Consul agent’s node name',
      )
        .env('SWITCHYARD_NODE_ID')
        .argParser(pattern(NODE_ID, '1-100 of letters, digits, _ . @ - (no colon)')),
    )
    .addOption(
      new Option('--color-label <key>', 'container label holding the deployment color')
        .env('SWITCHYARD_COLOR_LABEL')
        .argParser(pattern(LABEL_KEY, 'a label key such as color or com.example.color'))
        .default('color'),
    )
    .addOption(
      boolOption(
        '--explicit',
        'register only ports named by SERVICE_NAME / SERVICE_<port>_NAME',
        'SWITCHYARD_EXPLICIT',
      ),
    )
    .addOption(
      boolOption(
        '--all-published',
        'register every container with a published port, labelled or not (Registrator’s default)',
        'SWITCHYARD_ALL_PUBLISHED',
      ),
    )
    .addOption(
      new Option('--tags <list>', 'comma-separated tags added to every registered service')
        .env('SWITCHYARD_TAGS')
        .argParser(parseTags)
        .default([]),
    )
    .addOption(
      new Option(
        '--ip <address>',
        'address advertised for published ports; default: the binding’s host IP when specific, else the Consul agent’s address',
      )
        .env('SWITCHYARD_IP')
        .argParser(parseIp),
    )
    .addOption(
      boolOption(
        '--internal',
        'register exposed container ports at the container’s own IP instead of published ports',
        'SWITCHYARD_INTERNAL',
      ),
    )
    .addOption(
      new Option(
        '--network <name>',
        'with --internal: the Docker network whose IP is advertised; default the container’s first',
      )
        .env('SWITCHYARD_NETWORK')
        .argParser(pattern(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/, 'a Docker network name')),
    )
    .addOption(
      new Option('--resync <duration>', 'interval of the full Docker ↔ Consul reconciliation')
        .env('SWITCHYARD_RESYNC')
        .argParser(durationParser(1_000, 86_400_000))
        .default(30_000, '30s'),
    )
    .addOption(
      boolOption(
        '--deregister-on-exit',
        'on SIGTERM/SIGINT, deregister every service this node owns',
        'SWITCHYARD_DEREGISTER_ON_EXIT',
      ),
    )
    .addOption(
      boolOption(
        '--allow-live-mix',
        'let a container into the live color whatever its image or SERVICE_VERSION (the live-color guard off; per container: label switchyard.allow-live-mix=true)',
        'SWITCHYARD_ALLOW_LIVE_MIX',
      ),
    )
    .addOption(
      new Option('--shutdown-timeout <duration>', 'bound on a clean stop after SIGTERM/SIGINT')
        .env('SWITCHYARD_SHUTDOWN_TIMEOUT')
        .argParser(durationParser(1_000, 300_000))
        .default(DEFAULT_CLOSE_TIMEOUT_MS, '10s'),
    );
}

/** `--render` / `--no-render` (SWITCHYARD_RENDER) and the render role's options. */
export function addRenderRoleOptions(cmd: Command): Command {
  cmd.addOption(
    new Option('--render [bool]', 'run the render role (Consul → checked proxy config → reload)')
      .env('SWITCHYARD_RENDER')
      .argParser(parseBool)
      .preset('true')
      .default(true),
  );
  cmd.addOption(new Option('--no-render', 'do not render a proxy config (a host that runs apps but no proxy)'));
  return addRenderOptions(cmd);
}

/** `--rollouts` and the executor's election settings (docs/rollouts.md). */
export function addRolloutOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--rollouts [bool]',
        'take part in executing rollouts (one daemon in the cluster runs each, elected by a Consul lock)',
      )
        .env('SWITCHYARD_ROLLOUTS')
        .argParser(parseBool)
        .preset('true')
        .default(true),
    )
    .addOption(new Option('--no-rollouts', 'never execute rollouts on this daemon'))
    .addOption(
      new Option(
        '--rollout-session-ttl <duration>',
        'TTL of the Consul session holding rollout locks; a dead executor is noticed after it',
      )
        .env('SWITCHYARD_ROLLOUT_SESSION_TTL')
        .argParser(durationParser(10_000, 3_600_000))
        .default(10_000, '10s'),
    )
    .addOption(
      new Option(
        '--rollout-lock-delay <duration>',
        'Consul lock-delay: after an executor’s session ends, how long before another may take over',
      )
        .env('SWITCHYARD_ROLLOUT_LOCK_DELAY')
        .argParser(durationParser(0, 60_000))
        .default(15_000, '15s'),
    );
}

export function runCommand(): Command {
  const cmd = new Command('run').description(
    'Run the daemon: register this host’s containers in Consul (and, with the render role, keep the proxy in line)',
  );
  addCommonOptions(cmd);
  addRegisterOptions(cmd);
  addRenderRoleOptions(cmd);
  addRolloutOptions(cmd);
  addHttpOptions(cmd);
  cmd.action(async (options: RunOptions) => {
    const logger = createLogger({ level: options.logLevel, json: jsonLogs(options.logFormat) });
    const { daemon } = buildDaemon(options, logger);
    const code = await runUntilSignal(daemon, logger);
    process.exitCode = code;
    // Anything still holding the event loop open after a clean stop must not keep the process alive;
    // the lines logged so far go out first (process.exit drops what stdout still buffers).
    setTimeout(() => void exitAfterLogs(logger, code, 1_000), 2_000).unref();
  });
  return cmd;
}
