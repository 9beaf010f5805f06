import { z } from 'zod';

/**
 * Request counters per service and color, as one render host measures them at its proxy and
 * publishes them at `<kv-prefix>/traffic/<node>`. Counters are cumulative since the proxy (or the
 * daemon) started; the rollout executor keeps a baseline per host and reads the difference, so a
 * reset (a reload's new HAProxy worker, a restarted daemon) counts from zero again.
 *
 * Latency comes in one of two kinds, and the gate says which it judged:
 * - `histogram` (nginx, from its JSON access log): counts per upper bound in LATENCY_BUCKETS_MS; the
 *   gate reads the 99th percentile of the window as the bound of the bucket holding it.
 * - `avg` (HAProxy `show stat` rtime): HAProxy's own average over each server's last 1024 requests —
 *   not a percentile, and not limited to the window; the gate compares it with the same threshold.
 */
export const LATENCY_BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 750, 1000, 2500, 5000, 10000] as const;

const count = z.number().int().min(0);
export const colorCountersSchema = z.object({
  requests: count,
  /** Answers with a 5xx status. */
  errors: count,
  /** LATENCY_BUCKETS_MS.length + 1 counts (the last for slower than every bound). */
  histogram: z.array(count).optional(),
  /** HAProxy's rolling average response time, weighted over the color's servers. */
  avgMs: z.number().min(0).optional(),
});
export type ColorCounters = z.infer<typeof colorCountersSchema>;

export const trafficReportSchema = z.object({
  node: z.string(),
  at: z.string(),
  proxy: z.enum(['haproxy', 'nginx']),
  /** service → color → counters. */
  services: z.record(z.string(), z.record(z.string(), colorCountersSchema)),
});
export type TrafficReport = z.infer<typeof trafficReportSchema>;

export const trafficPrefix = (prefix: string): string => `${prefix.replace(/^\/+|\/+$/g, '')}/traffic/`;
export const trafficKey = (prefix: string, node: string): string => `${trafficPrefix(prefix)}${node}`;

/** One service's counters per render host and color: the executor's baseline and current reading. */
export type TrafficTotals = Record<string, Record<string, ColorCounters>>;

export function totalsFor(reports: readonly TrafficReport[], service: string): TrafficTotals {
  const out: TrafficTotals = {};
  for (const r of reports) {
    const s = r.services[service];
    if (s) out[r.node] = s;
  }
  return out;
}

/** What one color did in a window, summed over every render host. */
export interface ColorWindow {
  requests: number;
  errors: number;
  /** Percent of answers that were not 5xx; undefined with no request. */
  successRate: number | undefined;
  /** Milliseconds; undefined when no host measured any. */
  latencyMs: number | undefined;
  latencyKind: 'p99' | 'avg' | undefined;
  /** Render hosts that reported this color. */
  hosts: number;
}

function minus(now: number, before: number | undefined): number {
  // A counter lower than its baseline was reset (proxy reload, daemon restart): count from zero.
  return before === undefined || now < before ? now : now - before;
}

/** The window between `baseline` and `now` for one color, over every host in `now`. */
export function colorWindow(now: TrafficTotals, baseline: TrafficTotals | undefined, color: string): ColorWindow {
  let requests = 0;
  let errors = 0;
  let hosts = 0;
  const histogram = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
  let haveHistogram = false;
  let avgWeighted = 0;
  let avgWeight = 0;
  for (const [node, colors] of Object.entries(now)) {
    const c = colors[color];
    if (!c) continue;
    hosts += 1;
    const b = baseline?.[node]?.[color];
    const reset = b !== undefined && c.requests < b.requests;
    const base = reset ? undefined : b;
    const req = minus(c.requests, base?.requests);
    requests += req;
    errors += minus(c.errors, base?.errors);
    if (c.histogram && c.histogram.length === histogram.length) {
      haveHistogram = true;
      c.histogram.forEach((n, i) => (histogram[i]! += minus(n, base?.histogram?.[i])));
    }
    if (c.avgMs !== undefined && req > 0) {
      avgWeighted += c.avgMs * req;
      avgWeight += req;
    }
  }
  const latency = haveHistogram
    ? { latencyMs: percentile(histogram, 0.99), latencyKind: 'p99' as const }
    : avgWeight > 0
      ? { latencyMs: Math.round(avgWeighted / avgWeight), latencyKind: 'avg' as const }
      : { latencyMs: undefined, latencyKind: undefined };
  return {
    requests,
    errors,
    successRate: requests > 0 ? ((requests - Math.min(errors, requests)) / requests) * 100 : undefined,
    ...latency,
    hosts,
  };
}

/**
 * The q-quantile of a histogram over LATENCY_BUCKETS_MS, as the upper bound of the bucket holding
 * it (an over-estimate, never an under-estimate); undefined for an empty histogram. Slower than
 * every bound reads as twice the last bound.
 */
export function percentile(histogram: readonly number[], q: number): number | undefined {
  const total = histogram.reduce((a, b) => a + b, 0);
  if (total === 0) return undefined;
  const rank = Math.ceil(total * q);
  let seen = 0;
  for (const [i, n] of histogram.entries()) {
    seen += n;
    if (seen >= rank) return LATENCY_BUCKETS_MS[i] ?? LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1]! * 2;
  }
  return LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1]! * 2;
}

/** The bucket index of one measured duration. */
export function bucketOf(ms: number): number {
  const i = LATENCY_BUCKETS_MS.findIndex((b) => ms <= b);
  return i < 0 ? LATENCY_BUCKETS_MS.length : i;
}
