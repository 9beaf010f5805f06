import { InvalidArgumentError, Option, type Command } from 'commander';
import { DEFAULT_CONSUL_WAIT_MS, MAX_CONSUL_WAIT_MS } from '../consul/blocking-query.js';
import { COLOR_PATTERN } from '../domain/color.js';
import { splitList } from '../domain/list.js';
import { DEFAULT_GROWTH_WAIT_TEXT } from '../render/growth-wait.js';
import { DEFAULT_WAIT_TEXT } from '../render/render-options.js';
import { DEFAULT_RETRY_DELAY_MS } from '../render/render-pipeline.js';
import { DEFAULT_COLORS } from '../snapshot/build-snapshot.js';
import { DEFAULT_RESTART_GRACE_MS } from '../watch/catalog-watcher.js';
import { choiceParser, durationParser, parseBool, parseWait } from './values.js';

/**
 * The render role's flags, shared by `switchyard run` and `switchyard render`; they fill
 * RenderOptions (src/render/render-options.ts). Documented in docs/rendering.md.
 */

const PARAM_KEY = /^[A-Za-z][A-Za-z0-9_]*$/;

/**
 * `--template-param key=value`, repeatable; the environment variable holds several, separated by
 * commas (a comma inside a value is kept unless `key=` follows it).
 */
export function collectTemplateParams(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const out = { ...previous };
  for (const item of value.split(/,(?=\s*[A-Za-z][A-Za-z0-9_]*=)/)) {
    const eq = item.indexOf('=');
    const key = eq > 0 ? item.slice(0, eq).trim() : '';
    if (!PARAM_KEY.test(key))
      throw new InvalidArgumentError(`expected key=value with a key of letters, digits and _, got "${item}"`);
    out[key] = item.slice(eq + 1);
  }
  return out;
}

function parseColors(value: string): string[] {
  const colors = splitList(value);
  if (colors.length === 0) throw new InvalidArgumentError('expected at least one color');
  for (const c of colors)
    if (!COLOR_PATTERN.test(c))
      throw new InvalidArgumentError(`expected colors of 1-32 of a-z, 0-9, _ and -, got "${c}"`);
  return colors;
}

function parseServices(value: string): string[] {
  const names = splitList(value);
  if (names.length === 0) throw new InvalidArgumentError('expected at least one service name');
  for (const n of names)
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(n))
      throw new InvalidArgumentError(`expected Consul service names (letters, digits, _ . -), got "${n}"`);
  return names;
}

function parsePath(what: string) {
  return (value: string): string => {
    if (!value.trim() || /[\0\n]/.test(value)) throw new InvalidArgumentError(`expected ${what}, got "${value}"`);
    return value;
  };
}

function parseCommand(value: string): string {
  if (!value.trim()) throw new InvalidArgumentError('expected a shell command');
  return value;
}

export function addRenderOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--proxy <kind>', 'the proxy to drive: haproxy or nginx')
        .env('SWITCHYARD_PROXY')
        .argParser(choiceParser(['haproxy', 'nginx'] as const))
        .default('haproxy'),
    )
    .addOption(
      new Option(
        '--template <file>',
        'Eta template; default: the one shipped for --proxy (templates/<proxy>.<ext>.eta)',
      )
        .env('SWITCHYARD_TEMPLATE')
        .argParser(parsePath('a template file path')),
    )
    .addOption(
      new Option(
        '--config <file>',
        'the proxy config file to install; default /etc/haproxy/haproxy.cfg or /etc/nginx/nginx.conf',
      )
        .env('SWITCHYARD_PROXY_CONFIG')
        .argParser(parsePath('a config file path')),
    )
    .addOption(
      new Option('--template-param <key=value>', 'a template parameter (repeatable), see docs/templates.md')
        .env('SWITCHYARD_TEMPLATE_PARAMS')
        .argParser(collectTemplateParams)
        .default({}, 'none'),
    )
    .addOption(
      new Option(
        '--wait <min:max>',
        'render after min of quiet, but no later than max after the first change (consul-template’s wait)',
      )
        .env('SWITCHYARD_WAIT')
        .argParser(parseWait)
        .default(parseWait(DEFAULT_WAIT_TEXT), DEFAULT_WAIT_TEXT),
    )
    .addOption(
      new Option(
        '--growth-wait <min:max>',
        'during a burst, a change that only adds instances waits for min of quiet, at most max (fewer reloads); 0: off',
      )
        .env('SWITCHYARD_GROWTH_WAIT')
        .argParser(parseWait)
        .default(parseWait(DEFAULT_GROWTH_WAIT_TEXT), DEFAULT_GROWTH_WAIT_TEXT),
    )
    .addOption(
      new Option('--consul-wait <duration>', 'how long Consul may hold each blocking query (at most 10m)')
        .env('SWITCHYARD_CONSUL_WAIT')
        .argParser(durationParser(1_000, MAX_CONSUL_WAIT_MS))
        .default(DEFAULT_CONSUL_WAIT_MS, '5m'),
    )
    .addOption(
      new Option(
        '--restart-grace <duration>',
        'after Consul comes back from an outage, how long to keep serving a service it lists no instance of (0s: no grace)',
      )
        .env('SWITCHYARD_RESTART_GRACE')
        .argParser(durationParser(0, 600_000))
        .default(DEFAULT_RESTART_GRACE_MS, '30s'),
    )
    .addOption(
      new Option('--retry-delay <duration>', 'after a failed check or reload, try again this much later')
        .env('SWITCHYARD_RETRY_DELAY')
        .argParser(durationParser(100, 600_000))
        .default(DEFAULT_RETRY_DELAY_MS, '5s'),
    )
    .addOption(
      new Option(
        '--traffic-interval <duration>',
        'how often to publish the proxy’s request counters per color to Consul for rollout gates (docs/rollouts.md)',
      )
        .env('SWITCHYARD_TRAFFIC_INTERVAL')
        .argParser(durationParser(100, 600_000))
        .default(5_000, '5s'),
    )
    .addOption(
      new Option(
        '--check-command <command>',
        'check a candidate config with this shell command instead of haproxy -c / nginx -t ({} is the candidate file, else appended)',
      )
        .env('SWITCHYARD_CHECK_COMMAND')
        .argParser(parseCommand),
    )
    .addOption(
      new Option('--reload-command <command>', 'reload the proxy with this shell command (non-zero exit: failed)')
        .env('SWITCHYARD_RELOAD_COMMAND')
        .argParser(parseCommand),
    )
    .addOption(new Option('--no-reload', 'install the config without reloading the proxy'))
    .addOption(
      new Option(
        '--proxy-pid-file <file>',
        'the proxy master’s pid file, signalled to reload (HAProxy: SIGUSR2, nginx: SIGHUP); nginx default: the template’s pidFile',
      )
        .env('SWITCHYARD_PROXY_PID_FILE')
        .argParser(parsePath('a pid file path')),
    )
    .addOption(
      new Option('--proxy-binary <file>', 'the haproxy/nginx binary used to check configs; default: from PATH')
        .env('SWITCHYARD_PROXY_BINARY')
        .argParser(parsePath('a binary path')),
    )
    .addOption(
      new Option(
        '--proxy-container <name>',
        'sidecar layout: the proxy runs in this container; check with docker exec, reload with a signal through Docker',
      )
        .env('SWITCHYARD_PROXY_CONTAINER')
        .argParser(parsePath('a container name')),
    )
    .addOption(
      new Option(
        '--proxy-config-dir <dir>',
        'sidecar layout: the config folder as the proxy container sees it; default /usr/local/etc/haproxy or /etc/nginx',
      )
        .env('SWITCHYARD_PROXY_CONFIG_DIR')
        .argParser(parsePath('a folder path')),
    )
    .addOption(
      new Option(
        '--haproxy-admin-socket <path>',
        "sidecar layout: HAProxy's admin socket as this host sees it, in a volume shared with the proxy container; turns on the Runtime API there",
      )
        .env('SWITCHYARD_HAPROXY_ADMIN_SOCKET')
        .argParser(parsePath('a socket path')),
    )
    .addOption(
      new Option('--services <list>', 'render only these services (comma-separated); default: every colored service')
        .env('SWITCHYARD_SERVICES')
        .argParser(parseServices),
    )
    .addOption(
      new Option(
        '--colors <list>',
        'tags that name a color, for instances without a color Meta key; the templates declare these colors for every colored service, with or without instances (HAProxy: a first instance needs no reload)',
      )
        .env('SWITCHYARD_COLORS')
        .argParser(parseColors)
        .default([...DEFAULT_COLORS], DEFAULT_COLORS.join(',')),
    )
    .addOption(
      new Option(
        '--haproxy-runtime-api [bool]',
        'HAProxy: add, remove and re-weight servers through the admin socket with no reload when only servers change',
      )
        .env('SWITCHYARD_HAPROXY_RUNTIME_API')
        .argParser(parseBool)
        .preset('true')
        .default(true),
    )
    .addOption(new Option('--no-haproxy-runtime-api', 'HAProxy: always reload, never use the admin socket'));
}
