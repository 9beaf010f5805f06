import os from 'node:os';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { splitList } from '../../domain/list.js';
import { durationParser, intParser } from '../values.js';
import { consulClient } from '../compose-consul.js';
import { createLogger, type Logger } from '../../log/logger.js';
import { DEFAULT_COLOR_TAGS } from '../../switch/instance-health.js';
import { describeProgress } from '../../switch/renderer-progress.js';
import { COLOR_PATTERN } from '../../domain/color.js';
import { SwitchControl, type ChangeOptions, type ChangeResult } from '../../switch/switch-control.js';
import { jsonLogs, type CommonOptions } from '../common-options.js';

/** What switch, rollback and canary share: the service, the health gate, who, why, and --wait. */
export interface ChangeCommandOptions extends CommonOptions {
  service?: string;
  force: boolean;
  minPassing: number;
  reason?: string;
  by: string;
  wait: boolean;
  timeout: number;
}

export function parseColor(value: string): string {
  if (!COLOR_PATTERN.test(value))
    throw new InvalidArgumentError(`expected a color of 1-32 a-z, 0-9, _ and -, such as blue or green, got "${value}"`);
  return value;
}

export function defaultBy(): string {
  let user = process.env.USER ?? '';
  try {
    user ||= os.userInfo().username;
  } catch {
    // No passwd entry (a container running as a bare uid): the hostname still says where.
  }
  return `${user || 'unknown'}@${os.hostname()}`;
}

function parseColorTags(value: string): string[] {
  const colors = splitList(value);
  if (colors.length === 0)
    throw new InvalidArgumentError(`expected comma-separated colors such as blue,green, got "${value}"`);
  return colors.map(parseColor);
}

/** --service, and --colors with run's name and default so both judge instances alike. */
export function addServiceOption(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--colors <list>', 'tags that name a color, for instances without a color Meta key (as for run)')
        .env('SWITCHYARD_COLORS')
        .argParser(parseColorTags)
        .default([...DEFAULT_COLOR_TAGS], DEFAULT_COLOR_TAGS.join(',')),
    )
    .addOption(
      new Option(
        '--service <name>',
        'the service to act on; may be left out when only one service is deployed in colors',
      ).env('SWITCHYARD_SERVICE'),
    );
}

export function addChangeOptions(cmd: Command): Command {
  return addServiceOption(cmd)
    .addOption(new Option('--force', 'go ahead even when the color has too few passing instances').default(false))
    .addOption(
      new Option('--min-passing <n>', 'fewest passing instances the color taking traffic must have')
        .env('SWITCHYARD_MIN_PASSING')
        .argParser(intParser(0, 10_000))
        .default(1),
    )
    .addOption(new Option('--reason <text>', 'why, recorded in the history'))
    .addOption(
      new Option('--by <who>', 'who, recorded in the history')
        .env('SWITCHYARD_BY')
        .default(defaultBy(), '$USER@hostname'),
    )
    .addOption(
      new Option(
        '--wait',
        'wait until every render host reports serving the change (non-zero exit on timeout)',
      ).default(false),
    )
    .addOption(
      new Option('--timeout <duration>', 'how long --wait waits')
        .env('SWITCHYARD_WAIT_TIMEOUT')
        .argParser(durationParser(1000, 3_600_000))
        .default(60_000, '60s'),
    );
}

/**
 * Control commands log to stderr, so `status --json` and scripts reading stdout get only results.
 * JSON lines unless stderr is a terminal, or as --log-format says.
 */
export function controlLogger(o: CommonOptions): Logger {
  return createLogger({
    level: o.logLevel,
    json: jsonLogs(o.logFormat) ?? !process.stderr.isTTY,
    stream: process.stderr,
  });
}

/** Runs `fn` with a SwitchControl over a fresh Consul client, closing the client whatever happens. */
export async function withControl<T>(
  o: CommonOptions & { colors?: string[] },
  fn: (control: SwitchControl, logger: Logger) => Promise<T>,
): Promise<T> {
  const logger = controlLogger(o);
  const consul = consulClient(o);
  try {
    return await fn(
      new SwitchControl({ consul, kvPrefix: o.kvPrefix, logger, ...(o.colors ? { colorTags: o.colors } : {}) }),
      logger,
    );
  } finally {
    await consul.close();
  }
}

export function changeOptions(o: ChangeCommandOptions): ChangeOptions {
  return { minPassing: o.minPassing, force: o.force, by: o.by, ...(o.reason ? { reason: o.reason } : {}) };
}

/** After a change: print it, and with --wait follow the render hosts until they serve it. Returns the exit code. */
export async function reportChange(
  control: SwitchControl,
  logger: Logger,
  result: ChangeResult,
  o: ChangeCommandOptions,
): Promise<number> {
  process.stdout.write(`${result.message}\n`);
  if (!o.wait || !result.expect) return 0;
  const log = logger.child({ component: 'switch' });
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once('SIGINT', onSigint);
  try {
    const started = Date.now();
    const progress = await control.waitForRenderers(
      result.service,
      result.expect,
      o.timeout,
      (p) => log.info(describeProgress(p), { service: result.service }),
      ac.signal,
    );
    if (progress.done) {
      log.info(
        `every render host serves the change to ${result.service} (${((Date.now() - started) / 1000).toFixed(1)}s)`,
        { service: result.service },
      );
      return 0;
    }
    log.error(
      `${ac.signal.aborted ? 'interrupted' : `timed out after ${o.timeout / 1000}s`}: ${describeProgress(progress)}. The change is written in Consul; render hosts apply it when they can — see their logs`,
      { service: result.service },
    );
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
