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
  tryApply(input: { installed: string; candidate: string; snapshot: Snapshot }): Promise<boolean>;
}
