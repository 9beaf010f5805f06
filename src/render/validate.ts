import type { ValidAddress } from '../domain/address.js';

/**
 * Validators and escapers for every value that can reach a proxy config from Consul, a label or a
 * template parameter. Each validator answers with the value in canonical form, or undefined when it
 * is not acceptable: callers leave the value out and warn; they never pass it through.
 */

export function validPort(raw: unknown): number | undefined {
  return typeof raw === 'number' && Number.isInteger(raw) && raw >= 1 && raw <= 65535 ? raw : undefined;
}

/** `host:port`, with brackets around an IPv6 literal: the form both HAProxy and nginx accept. */
export function formatEndpoint(address: ValidAddress, port: number): string {
  return address.kind === 'ipv6' ? `[${address.address}]:${port}` : `${address.address}:${port}`;
}

/**
 * An HTTP path for health checks: no spaces, quotes, `#`, `;`, `$`, braces or control characters, so
 * it is one word in both HAProxy and nginx syntax.
 */
const HTTP_PATH = /^\/[A-Za-z0-9._~%/-]*(?:\?[A-Za-z0-9._~%=&-]*)?$/;
export function validHttpPath(raw: unknown): string | undefined {
  return typeof raw === 'string' && raw.length <= 256 && HTTP_PATH.test(raw) ? raw : undefined;
}

/** A plain token (meta values a template may print bare): letters, digits and `._:/@+=,-`. */
const TOKEN = /^[A-Za-z0-9._:/@+=,-]{1,256}$/;
export function validToken(raw: unknown): string | undefined {
  return typeof raw === 'string' && TOKEN.test(raw) ? raw : undefined;
}

/** A duration both HAProxy and nginx read the same way. */
const DURATION = /^\d{1,6}(?:ms|s|m|h)$/;
export function validDuration(raw: string): string | undefined {
  return DURATION.test(raw) ? raw : undefined;
}

/** An absolute file path without spaces, quotes or separators of either syntax. */
const ABS_PATH = /^\/[A-Za-z0-9._/@+-]{0,1023}$/;
export function validAbsolutePath(raw: string): string | undefined {
  return ABS_PATH.test(raw) && !raw.split('/').includes('..') ? raw : undefined;
}

// Control characters (newline, NUL, ESC, DEL…) end a directive or confuse a terminal; both escapers drop them.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/**
 * Any string as one HAProxy word: single quotes (HAProxy's strong quoting: no `$` expansion, no
 * escapes inside) with each `'` written as `'\''`, as in a shell. Control characters are dropped.
 */
export function quoteHaproxy(value: unknown): string {
  const s = String(value ?? '').replace(CONTROL, '');
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Any string as one nginx word: double quotes, with `\` and `"` escaped. nginx has no escape for
 * `$` (it starts a variable, even inside quotes), so `$` is dropped, as are control characters.
 */
export function quoteNginx(value: unknown): string {
  const s = String(value ?? '')
    .replace(CONTROL, '')
    .replace(/\$/g, '');
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** Text for a `#` comment line in either syntax: one line, printable, bounded. */
export function commentText(value: unknown): string {
  return String(value ?? '')
    .replace(CONTROL, ' ')
    .slice(0, 200);
}
