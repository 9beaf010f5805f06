import type { DockerClient } from '../docker/docker-client.js';
import { ShellCommandChecker } from './check-command.js';
import { DockerExecChecker, LocalChecker, type ConfigChecker } from './config-checker.js';
import type { ProxyKind } from './proxy-driver.js';
import {
  CommandReloader,
  ContainerSignalReloader,
  HAPROXY_RESEND_AFTER_MS,
  PidSignalReloader,
  type Reloader,
} from './reloader.js';

/** Where the proxy runs and how to reach it: what both drivers take to pick a checker and a reloader. */
export interface ProxyProcessOptions {
  /** The proxy binary the checker runs, locally or in the container (default: `haproxy` / `nginx`). */
  binary?: string;
  /** The master's pid file, signalled to reload. */
  pidFile?: string;
  /** Run by /bin/sh instead of signalling; non-zero exit is a failed reload. */
  reloadCommand?: string;
  /** `--check-command`: an operator's own checker, run by /bin/sh, instead of the proxy's binary. */
  checkCommand?: string;
  /** The sidecar layout: check inside the proxy's container and signal it. */
  container?: { docker: DockerClient; name: string; configDir: string; signal?: string };
  /** Install only, never reload (someone else does, or a dry run); the checker is picked as usual. */
  installOnly?: boolean;
  checker?: ConfigChecker;
  reloader?: Reloader;
}

/** Each proxy's reload signal and how long to let old workers go (see PidSignalReloader). */
const RELOAD: Record<
  ProxyKind,
  { signal: NodeJS.Signals; master: string; oldWorkersExitMs: number; resendAfterMs: number }
> = {
  // The HAProxy 2.6 master drops a SIGUSR2 that comes just after it started: send it again.
  haproxy: {
    signal: 'SIGUSR2',
    master: 'HAProxy master',
    oldWorkersExitMs: 0,
    resendAfterMs: HAPROXY_RESEND_AFTER_MS,
  },
  // nginx's old workers still accept connections until they handle QUIT: wait for them to go.
  nginx: { signal: 'SIGHUP', master: 'nginx master', oldWorkersExitMs: 2_000, resendAfterMs: 0 },
};

/**
 * The one place that picks the checker: the one given, else `checkCommand`, else the proxy's own
 * binary in its container (sidecar), else locally. `render --once --dry` checks with the same pick.
 */
export function proxyChecker(kind: ProxyKind, o: ProxyProcessOptions): ConfigChecker {
  if (o.checker) return o.checker;
  if (o.checkCommand) return new ShellCommandChecker(o.checkCommand);
  if (o.container)
    return new DockerExecChecker(kind, o.container.docker, o.container.name, o.container.configDir, o.binary ?? kind);
  return new LocalChecker(kind, o.binary ?? kind);
}

/**
 * The reloader, in this order: the one given, none when `installOnly`, `reloadCommand`, `container`
 * (the proxy's reload signal through Docker), `pidFile` (the signal to the master); none: install only.
 */
export function proxyReloader(kind: ProxyKind, o: ProxyProcessOptions): Reloader | undefined {
  const r = RELOAD[kind];
  if (o.reloader) return o.reloader;
  if (o.installOnly) return undefined;
  if (o.reloadCommand) return new CommandReloader(o.reloadCommand);
  if (o.container)
    return new ContainerSignalReloader(o.container.docker, o.container.name, o.container.signal ?? r.signal);
  if (o.pidFile)
    return new PidSignalReloader(o.pidFile, r.signal, r.master, 10_000, r.oldWorkersExitMs, r.resendAfterMs);
  return undefined;
}
