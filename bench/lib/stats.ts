/** Percentiles and a one-line summary of a sample, for the benchmarks' printed figures. */

/** Nearest-rank percentile (p in 0..100) of an ascending-sorted sample; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export interface Summary {
  count: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function summarize(values: readonly number[]): Summary {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : NaN;
  return {
    count: sorted.length,
    min: sorted[0] ?? NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? NaN,
    mean,
  };
}

/** "n=50 p50=12.3ms p90=… p99=… max=…" */
export function formatSummary(s: Summary, unit = 'ms', digits = 1): string {
  const f = (v: number) => `${v.toFixed(digits)}${unit}`;
  return `n=${s.count} min=${f(s.min)} p50=${f(s.p50)} p90=${f(s.p90)} p99=${f(s.p99)} max=${f(s.max)} mean=${f(s.mean)}`;
}
