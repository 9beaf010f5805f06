import { createHash } from 'node:crypto';

/**
 * A proxy-identifier-safe form of any string (service, color, instance id): `[a-z0-9_]`, starting
 * with a letter, at most 48 characters.
 *
 * A name that is already safe is kept as it is, so configs stay readable. Any other name gets a
 * suffix `_` + 12 hex digits of its SHA-256, so two different inputs never share an output: a kept
 * name never ends in such a suffix (names that look hashed are hashed again), and two hashed names
 * would need a 48-bit hash collision.
 */
const MAX_KEPT = 48;
const MAX_STEM = 32;
const HASHED = /_[0-9a-f]{12}$/;

// Every render names every instance again, mostly with the same ids; a hashed name costs a SHA-256.
const known = new Map<string, string>();
const KNOWN_MAX = 10_000;

export function safeName(input: string): string {
  let out = known.get(input);
  if (out === undefined) {
    out = computeSafeName(input);
    if (known.size >= KNOWN_MAX) known.clear();
    known.set(input, out);
  }
  return out;
}

function computeSafeName(input: string): string {
  let stem = input.toLowerCase().replace(/[^a-z0-9_]+/g, '_');
  if (!/^[a-z]/.test(stem)) stem = `x${stem}`;
  if (stem === input && input.length <= MAX_KEPT && !HASHED.test(input)) return input;
  const hash = createHash('sha256').update(input, 'utf8').digest('hex').slice(0, 12);
  stem = stem.slice(0, MAX_STEM).replace(/_+$/, '');
  return `${stem}_${hash}`;
}
