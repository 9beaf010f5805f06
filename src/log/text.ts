/**
 * How untrusted text (a label, a Consul answer, a check's output, an error) is shown in a log line,
 * an error or `status`: cut to a bound, and quoted where its edges matter.
 */

/** At most `max` characters; a cut ends in "...". */
export function cut(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

/** Whitespace (newlines too) collapsed to single spaces, then cut: one line, whatever came in. */
export function oneLine(s: string, max = 120): string {
  return cut(s.trim().replace(/\s+/g, ' '), max);
}

/** The first `max` characters, JSON-quoted: control characters and quotes show as escapes. */
export function quoted(v: unknown, max = 80): string {
  return JSON.stringify(String(v).slice(0, max));
}

/** Control characters, quotes and backslashes escaped as in JSON (without the outer quotes), then cut. */
export function escaped(v: string, max = 80): string {
  return cut(JSON.stringify(v).slice(1, -1), max);
}
