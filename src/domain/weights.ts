/** Canary weights, color → percent of the main port's traffic (src/domain/service-state.ts). */
export type Weights = Readonly<Record<string, number>>;

/** Same colors with the same percents; absent and empty are the same (no canary). */
export function sameWeights(a: Weights | undefined, b: Weights | undefined): boolean {
  const ka = Object.keys(a ?? {}).sort();
  const kb = Object.keys(b ?? {}).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a![k] === b![k]);
}

/** "blue 80%, green 20%", colors in name order: how logs and `status` show weights. */
export function weightsText(w: Weights): string {
  return Object.entries(w)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([c, n]) => `${c} ${n}%`)
    .join(', ');
}
