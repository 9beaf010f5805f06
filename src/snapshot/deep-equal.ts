/**
 * Structural equality for JSON-like data (Consul answers, snapshots): plain objects compared by
 * their own keys whatever their order, arrays by position, everything else with Object.is.
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  if (a instanceof Map || b instanceof Map) {
    if (!(a instanceof Map) || !(b instanceof Map) || a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !deepEqual(v, b.get(k))) return false;
    return true;
  }
  // No filtered copies of the key lists: this runs on every Consul answer and snapshot, and the
  // copies (and the closure calls that made them) were a good share of its time and garbage.
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const ka = Object.keys(ra);
  const kb = Object.keys(rb);
  let defined = 0;
  for (const k of ka) {
    const v = ra[k];
    if (v === undefined) continue;
    defined++;
    if (!hasOwn(rb, k) || !deepEqual(v, rb[k])) return false;
  }
  for (const k of kb) if (rb[k] !== undefined) defined--;
  return defined === 0;
}

function hasOwn(o: object, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}
