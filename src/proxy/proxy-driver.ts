import type { Lifecycle } from '../lifecycle.js';
import type { Snapshot } from '../snapshot/snapshot.js';

export type ProxyKind = 'haproxy' | 'nginx';

export interface ApplyInput {
  /** The rendered candidate configuration. */
  config: string;
  /** The snapshot it was rendered from (the HAProxy Runtime API path works from it). */
  snapshot: Snapshot;
  /** Why this apply happens, for the log line ("consul change", "template edited", …). */
  reason: string;
}

export interface ApplyOutcome {
  /**
   * unchanged: same config, nothing done; runtime: servers changed through the HAProxy Runtime API,
   * no reload; reloaded: new config installed and the proxy reloaded; installed: written, no reload
   * configured (or dry run).
   */
  action: 'unchanged' | 'runtime' | 'reloaded' | 'installed';
  configPath: string;
}

/**
 * One proxy (HAProxy or nginx) as the render role drives it: check a candidate with the proxy's
 * own checker, install it atomically, make the proxy serve it. A rejected candidate throws
 * CheckerError and is never installed; a failed reload throws ReloadError; either way the
 * previous config keeps serving and the next apply tries again.
 */
export interface ProxyDriver extends Lifecycle {
  readonly kind: ProxyKind;
  apply(input: ApplyInput): Promise<ApplyOutcome>;
  /**
   * True when `config` differs from the installed config only in what the proxy applies without a
   * reload (HAProxy's Runtime API). The render pipeline applies such a change at once instead of
   * waiting for the `--wait` quiet period, which exists to coalesce reloads.
   */
  appliesWithoutReload?(config: string): boolean;
}
