import { isGrowth } from '../snapshot/snapshot-diff.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import type { WaitRange } from '../watch/quiescence.js';

/**
 * Default `--growth-wait`. A burst of container starts (a deploy, a scale-out) reaches the render
 * pipeline as one change every few hundred ms for as long as Docker takes (11 s for 50 containers
 * started 8 at a time on an idle 2-core machine, 30 s on a loaded one); `--wait 250ms:1s` then
 * reloads about once a second. 2 s of quiet outlasts the gaps between starts, and 30 s bounds how
 * long new capacity can wait while a burst goes on.
 */
export const DEFAULT_GROWTH_WAIT_TEXT = '2s:30s';

/**
 * The growth wait in force, or undefined when it is off: `0`, or a range no longer than `wait`
 * in either bound. Never shorter than `wait`: growth waits at least as long as any other change.
 */
export function effectiveGrowthWait(wait: WaitRange, growth: WaitRange | undefined): WaitRange | undefined {
  if (!growth || (growth.minMs <= wait.minMs && growth.maxMs <= wait.maxMs)) return undefined;
  return { minMs: Math.max(growth.minMs, wait.minMs), maxMs: Math.max(growth.maxMs, wait.maxMs) };
}

export interface WaitChoiceInput {
  /** `--wait`. */
  wait: WaitRange;
  /** effectiveGrowthWait(): undefined when off. */
  growthWait: WaitRange | undefined;
  /** What the proxy serves now (undefined before the first apply) and the change that arrived. */
  applied: Snapshot | undefined;
  next: Snapshot;
  /** The last apply failed: retry on the normal schedule. */
  failing: boolean;
  /** A change is already waiting to be applied. */
  waitPending: boolean;
  /** An apply that reloads the proxy for growth is running. */
  growthReloading: boolean;
  /**
   * When the last reload ended (clock ms), if it was for growth. A reload for anything else (a
   * removal, a new service) leaves it undefined: a replacement started right after a container
   * stopped is not a burst.
   */
  lastGrowthReloadAt: number | undefined;
  now: number;
}

export interface WaitChoice {
  range: WaitRange;
  /** The longer growth wait was chosen. */
  growth: boolean;
}

/**
 * How long a change that needs a reload waits (Quiescence). A change that only grows what is served
 * (isGrowth) while a burst is under way — a reload for growth ended less than the growth quiet
 * period ago, one is running, or a change is already waiting — takes the growth wait, so a burst of 50
 * starts costs about two reloads instead of one a second. The first change after a quiet spell and
 * every change that is not growth (an instance removed or failing, a switch, a new service) take
 * `--wait`; Quiescence lets the shorter range win, so a growth wait never delays them.
 */
export function chooseWait(i: WaitChoiceInput): WaitChoice {
  const normal = { range: i.wait, growth: false };
  const g = i.growthWait;
  if (!g || i.failing || !isGrowth(i.applied, i.next)) return normal;
  const recentReload = i.lastGrowthReloadAt !== undefined && i.now - i.lastGrowthReloadAt < g.minMs;
  if (!i.waitPending && !i.growthReloading && !recentReload) return normal;
  return { range: g, growth: true };
}
