/**
 * How a comma-separated list reads, wherever a user writes one: a label (`SERVICE_TAGS=a, b`) or a
 * flag (`--tags a,b`, `--colors blue,green`, `--services web,api`). Items are trimmed and empty
 * items dropped, so `a,,b,` and ` a , b ` both read as `a`, `b`. Order and repeats are kept: each
 * caller validates the items and decides what a repeat means.
 */
export function splitList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
