import type { ConsulReachability } from '../consul/consul-liveness.js';
import { formatMs } from '../time/duration.js';
import type { PartHealth } from '../http/health.js';

/**
 * The render role's answer to /healthz, as a pure function of what its parts know. In order of
 * precedence, it is unhealthy when:
 * 1. Consul is unreachable (the liveness probe misses, or a watch query keeps failing): the proxy
 *    keeps its last config, but no change reaches it;
 * 2. no config was ever applied, once the start grace is over;
 * 3. the last `failedAppliesThreshold` applies in a row failed (template, checker or reload).
 * Otherwise ok. "Never applied" within the grace is "starting" (also 503: a load balancer that
 * serves nothing yet must not take traffic).
 */

/** How many failed applies in a row make the render role unhealthy (one failure is retried in 5 s). */
export const FAILED_APPLIES_BEFORE_UNHEALTHY = 3;
/** How long after start "no config applied yet" is `starting` rather than `unhealthy`. */
export const RENDER_START_GRACE_MS = 30_000;
/** A watch query failing for this long counts (a single failed query is retried within a second). */
export const WATCH_FAILURE_GRACE_MS = 10_000;

export interface ApplyRecord {
  /** Clock ms of the last successful apply; undefined when none yet. */
  lastSuccessAt: number | undefined;
  /** Failed applies since the last success (or since start). */
  consecutiveFailures: number;
  /** The last failure's one-line reason. */
  lastError: string | undefined;
}

export interface RenderHealthInput {
  now: number;
  startedAt: number;
  consul: ConsulReachability;
  /** The watcher's view: a query keeps failing since `since`, with `message`. */
  watchProblem: { since: number; message: string } | undefined;
  applies: ApplyRecord;
  failedAppliesThreshold?: number;
  startGraceMs?: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function renderHealth(input: RenderHealthInput): PartHealth {
  const { now, consul, watchProblem, applies } = input;
  const threshold = input.failedAppliesThreshold ?? FAILED_APPLIES_BEFORE_UNHEALTHY;
  const grace = input.startGraceMs ?? RENDER_START_GRACE_MS;

  if (consul.reachable === false) {
    const since = consul.downSince ?? now;
    return {
      status: 'unhealthy',
      message: `cannot reach Consul for ${formatMs(now - since)} (${consul.lastError ?? 'no answer'}); the proxy keeps its last config`,
      since: iso(since),
    };
  }
  if (watchProblem && now - watchProblem.since >= WATCH_FAILURE_GRACE_MS) {
    return {
      status: 'unhealthy',
      message: `Consul queries fail: ${watchProblem.message}; the proxy keeps its last config`,
      since: iso(watchProblem.since),
    };
  }
  if (applies.lastSuccessAt === undefined) {
    const why = applies.lastError ? `; last attempt: ${applies.lastError}` : '';
    if (now - input.startedAt < grace)
      return { status: 'starting', message: `no proxy config applied yet${why}`, since: iso(input.startedAt) };
    return {
      status: 'unhealthy',
      message: `no proxy config applied in the ${formatMs(now - input.startedAt)} since start${why}`,
      since: iso(input.startedAt),
    };
  }
  if (applies.consecutiveFailures >= threshold) {
    return {
      status: 'unhealthy',
      message: `the last ${applies.consecutiveFailures} applies failed (the proxy serves the config applied at ${iso(applies.lastSuccessAt)}): ${applies.lastError ?? 'unknown error'}`,
    };
  }
  return { status: 'ok', message: `config applied at ${iso(applies.lastSuccessAt)}` };
}
