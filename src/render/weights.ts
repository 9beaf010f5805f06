/**
 * Server weights that make each color's share of a backend's traffic equal the requested percent.
 *
 * A color with `n` passing servers and a share `p` gets `p / n` per server; the per-server values are
 * scaled so the largest is exactly MAX_WEIGHT (HAProxy's ceiling is 256) and rounded, with at least 1
 * for a color whose share is above zero. A color with share 0 gets weight 0: its servers stay in the
 * backend (health-checked, ready for a Runtime API `set weight`) but take no new requests.
 */
export const MAX_WEIGHT = 256;

/** color → percent (0-100) and color → passing servers → color → weight of each of its servers. */
export function perServerWeights(
  percent: ReadonlyMap<string, number>,
  passing: ReadonlyMap<string, number>,
): Map<string, number> {
  const factor = new Map<string, number>();
  for (const [color, p] of percent) {
    const n = passing.get(color) ?? 0;
    if (p > 0 && n > 0) factor.set(color, p / n);
  }
  const max = Math.max(0, ...factor.values());
  const out = new Map<string, number>();
  for (const color of new Set([...percent.keys(), ...passing.keys()])) {
    const f = factor.get(color);
    out.set(color, f === undefined || max === 0 ? 0 : Math.max(1, Math.round((f / max) * MAX_WEIGHT)));
  }
  return out;
}
