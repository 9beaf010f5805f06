import { isIPv4, isIPv6 } from 'node:net';
import { ConfigError } from '../errors.js';
import { validAbsolutePath, validDuration } from './validate.js';

/**
 * Template parameters: the knobs an operator turns with `--template-param key=value` (repeatable).
 * Every known key is validated here, so a template can print it bare; unknown keys reach templates
 * only through `it.param(key)`, quoted by the template. Defaults suit a production load balancer.
 */
export interface TemplateParams {
  /** Where the live color answers. */
  mainPort: number;
  /** Where the idle color answers (the seeds' 8080), for checking a color before the switch. 0: off. */
  previewPort: number;
  /** HAProxy stats page (`stats uri /`). 0: off. */
  statsPort: number;
  /** Listen address: '*' (every address), an IPv4 or an IPv6 literal (printed with brackets). */
  bind: string;
  /** The service answering requests whose Host matches no service; default: the only/first one. */
  defaultService: string | undefined;
  /**
   * HAProxy: server slots per color and backend come in blocks of this size, always with at least one
   * spare, so the Runtime API can add instances without a reload (docs/templates.md). 0: no spares.
   */
  serverSlots: number;
  /** HAProxy admin socket (Runtime API, `expose-fd listeners` for seamless reloads). */
  adminSocket: string;
  /**
   * HAProxy: a group id that may use the admin socket too (`mode 660 gid N`), for a Switchyard in
   * another container (the sidecar layout); unset: owner only (`mode 600`).
   */
  adminSocketGid: number | undefined;
  /** HAProxy `log` target, or 'none'. */
  log: string;
  /** Health check interval; fall/rise are `checkFall`/`checkRise`. */
  checkInterval: string;
  checkFall: number;
  checkRise: number;
  timeoutConnect: string;
  timeoutClient: string;
  timeoutServer: string;
  /** HAProxy `hard-stop-after` / nginx `worker_shutdown_timeout`: how long old workers may finish requests. */
  hardStopAfter: string;
  /** nginx client keep-alive; '0' (the default) closes after each response — see docs/templates.md on the reload race. */
  keepaliveTimeout: string;
  /** nginx pid file and logs, and the folder for its temp files (unset: nginx's compiled-in paths). */
  pidFile: string;
  errorLog: string;
  accessLog: string;
  /** nginx: the JSON log of upstream, status and time the daemon reads for rollout gates; 'off' for none. */
  trafficLog: string;
  tempDir: string | undefined;
  /** Preview routing on the main port: a request with this header naming a color goes to that color. */
  colorHeader: string;
  /** …or with this cookie; during a sticky rollout its value `<color>~<token>` pins a client to the canary. */
  colorCookie: string;
  /** 'off' turns the preview header and cookie off. */
  colorRouting: boolean;
  /** nginx `user` when started as root (unset: nginx's default). */
  user: string | undefined;
  /** Every key=value given, known or not. */
  raw: Readonly<Record<string, string>>;
}

export const DEFAULT_TEMPLATE_PARAMS: Readonly<Omit<TemplateParams, 'raw'>> = Object.freeze({
  mainPort: 80,
  previewPort: 8080,
  statsPort: 1936,
  bind: '*',
  defaultService: undefined,
  serverSlots: 4,
  adminSocket: '/run/haproxy/admin.sock',
  adminSocketGid: undefined,
  log: 'stdout format raw local0 info',
  checkInterval: '2s',
  checkFall: 2,
  checkRise: 2,
  timeoutConnect: '5s',
  timeoutClient: '30s',
  timeoutServer: '30s',
  hardStopAfter: '30s',
  keepaliveTimeout: '0',
  pidFile: '/run/nginx.pid',
  errorLog: '/var/log/nginx/error.log',
  accessLog: '/var/log/nginx/access.log',
  trafficLog: '/var/log/nginx/switchyard-traffic.log',
  tempDir: undefined,
  user: undefined,
  colorHeader: 'X-Switchyard-Color',
  colorCookie: 'switchyard-color',
  colorRouting: true,
});

const LOG_TARGET = /^(?:none|stdout|stderr|\/[A-Za-z0-9._/-]+|[A-Za-z0-9.:[\]-]+)(?: [a-z0-9]+){0,6}$/;
const USER = /^[a-z_][a-z0-9_-]{0,31}(?: [a-z_][a-z0-9_-]{0,31})?$/;

/** Validates the raw key=value map; one ConfigError naming the key and what was expected. */
export function parseTemplateParams(raw: Readonly<Record<string, string>> = {}): TemplateParams {
  const d = DEFAULT_TEMPLATE_PARAMS;
  const bad = (key: string, expected: string): never => {
    throw new ConfigError(`template param ${key}: expected ${expected}, got "${raw[key]}"`);
  };
  const str = (key: string): string | undefined => (key in raw ? raw[key]!.trim() : undefined);
  const port = (key: string, def: number, allowZero: boolean): number => {
    const v = str(key);
    if (v === undefined) return def;
    const n = /^\d{1,5}$/.test(v) ? Number(v) : NaN;
    if (!(n >= (allowZero ? 0 : 1) && n <= 65535))
      bad(key, allowZero ? 'a port from 1 to 65535, or 0 for off' : 'a port');
    return n;
  };
  const int = (key: string, def: number, min: number, max: number): number => {
    const v = str(key);
    if (v === undefined) return def;
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (!(n >= min && n <= max)) bad(key, `a whole number from ${min} to ${max}`);
    return n;
  };
  const duration = (key: string, def: string): string => {
    const v = str(key);
    if (v === undefined) return def;
    return validDuration(v) ?? bad(key, 'a duration such as 500ms, 30s, 5m or 1h');
  };
  const path = (key: string, def: string): string => {
    const v = str(key);
    if (v === undefined) return def;
    return validAbsolutePath(v) ?? bad(key, 'an absolute path of letters, digits and ._/@+-');
  };

  const bindRaw = str('bind') ?? d.bind;
  const bindBare = bindRaw.replace(/^\[(.*)\]$/, '$1');
  const bind =
    bindRaw === '*'
      ? '*'
      : isIPv4(bindBare)
        ? bindBare
        : isIPv6(bindBare) && !bindBare.includes('%')
          ? `[${bindBare}]`
          : bad('bind', '*, an IPv4 or an IPv6 address');

  const defaultService = str('defaultService');
  if (defaultService !== undefined && defaultService.length === 0) bad('defaultService', 'a service name');

  const log = str('log') ?? d.log;
  if (!LOG_TARGET.test(log)) bad('log', 'none, stdout, stderr, a socket path or host:port, then facility and level');

  const keepaliveTimeout = str('keepaliveTimeout') ?? d.keepaliveTimeout;
  if (keepaliveTimeout !== '0' && !validDuration(keepaliveTimeout)) {
    bad('keepaliveTimeout', '0 (off) or a duration such as 5s');
  }
  const accessLog = str('accessLog') ?? d.accessLog;
  if (accessLog !== 'off' && !validAbsolutePath(accessLog)) bad('accessLog', 'off or an absolute path');
  const trafficLog = str('trafficLog') ?? d.trafficLog;
  if (trafficLog !== 'off' && !validAbsolutePath(trafficLog)) bad('trafficLog', 'off or an absolute path');
  const tempDir = str('tempDir');
  if (tempDir !== undefined && !validAbsolutePath(tempDir)) bad('tempDir', 'an absolute path');
  const adminSocketGid = str('adminSocketGid') === undefined ? undefined : int('adminSocketGid', 0, 0, 4294967294);
  const user = str('user');
  if (user !== undefined && !USER.test(user)) bad('user', 'a user name, optionally followed by a group name');

  const colorHeader = str('colorHeader') ?? d.colorHeader;
  if (!/^[A-Za-z][A-Za-z0-9-]{0,63}$/.test(colorHeader)) bad('colorHeader', 'a header name of letters, digits and -');
  const colorCookie = str('colorCookie') ?? d.colorCookie;
  if (!/^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(colorCookie))
    bad('colorCookie', 'a cookie name of letters, digits, _ and -');
  const routing = str('colorRouting') ?? 'on';
  if (routing !== 'on' && routing !== 'off') bad('colorRouting', 'on or off');

  return Object.freeze({
    mainPort: port('mainPort', d.mainPort, false),
    previewPort: port('previewPort', d.previewPort, true),
    statsPort: port('statsPort', d.statsPort, true),
    bind,
    defaultService,
    serverSlots: int('serverSlots', d.serverSlots, 0, 1000),
    adminSocket: path('adminSocket', d.adminSocket),
    adminSocketGid,
    log,
    checkInterval: duration('checkInterval', d.checkInterval),
    checkFall: int('checkFall', d.checkFall, 1, 100),
    checkRise: int('checkRise', d.checkRise, 1, 100),
    timeoutConnect: duration('timeoutConnect', d.timeoutConnect),
    timeoutClient: duration('timeoutClient', d.timeoutClient),
    timeoutServer: duration('timeoutServer', d.timeoutServer),
    hardStopAfter: duration('hardStopAfter', d.hardStopAfter),
    keepaliveTimeout,
    pidFile: path('pidFile', d.pidFile),
    errorLog: path('errorLog', d.errorLog),
    accessLog,
    trafficLog,
    tempDir,
    user,
    colorHeader,
    colorCookie,
    colorRouting: routing === 'on',
    raw: Object.freeze({ ...raw }),
  });
}
