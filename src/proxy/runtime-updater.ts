import type { Snapshot } from '../snapshot/snapshot.js';

/**
 * The hook through which the HAProxy Runtime API (src/proxy/haproxy-runtime-api*.ts) plugs into
 * HaproxyDriver: given the installed and the candidate config (both rendered by templates using the
 * slot layout in docs/templates.md), it either makes the running HAProxy match the candidate through
 * the admin socket and answers true — the driver then installs the file without a reload, so a later
 * reload starts from the same state — or answers false (a structural change, or no socket) and the
 * driver reloads. A throw counts as false: the reload is the safe fallback.
 */
export interface RuntimeUpdater {
  /**
   * Whether tryApply() would take this change (pure: the plan, plus whether the admin socket is
   * there), without sending anything. A candidate it takes is valid by construction — the installed
   * config's structure was checked, and only server addresses and weights (validated by the
   * template context) differ — so the driver skips the checker and the render pipeline applies it
   * without waiting out the `--wait` quiet period. Says why it declines in the log unless `quiet`.
   */
  handles(input: { installed: string; candidate: string; quiet?: boolean }): boolean;
  tryApply(input: { installed: string; candidate: string; snapshot: Snapshot }): Promise<boolean>;
}
