import { isIPv4, isIPv6 } from 'node:net';

/**
 * Validators and escapers for every value that can reach a proxy config from Consul, a label or a
 * template parameter. Each validator answers with the value in canonical form, or undefined when it
 * is not acceptable: callers leave the value out and warn; they never pass it through.
 */

const HOSTNAME_LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const HOSTNAME = new RegExp(`^(?=.{1,253}$)${HOSTNAME_LABEL}(?:\\.${HOSTNAME_LABEL})*$`);

export type AddressKind = 'ipv4' | 'ipv6' | 'hostname';

export interface ValidAddress {
  /** Canonical text (lowercase; IPv6 without brackets). */
  address: string;
  kind: AddressKind;
}

/** An IPv4 literal, an IPv6 literal (no zone id) or a DNS hostname; anything else is refused. */
export function validAddress(raw: unknown): ValidAddress | undefined {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 253) return undefined;
  const bare = raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1) : raw;
  if (isIPv4(bare)) return { address: bare, kind: 'ipv4' };
  if (isIPv6(bare) && !bare.includes('%')) return { address: canonicalIpv6(bare), kind: 'ipv6' };
  const lower = raw.toLowerCase();
  if (HOSTNAME.test(lower)) return { address: lower, kind: 'hostname' };
  return undefined;
}

/**
 * RFC 5952 text: lowercase, no leading zeros, `::` only for the longest run of two or more zero
 * groups. Node accepts `1:2:3:4:5:6:7::` (`::` for a single group), which nginx refuses as "invalid
 * IPv6 address in upstream" and so fails the whole config; the canonical form is accepted by both.
 */
function canonicalIpv6(address: string): string {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

export function validPort(raw: unknown): number | undefined {
  return typeof raw === 'number' && Number.isInteger(raw) && raw >= 1 && raw <= 65535 ? raw : undefined;
}

/** `host:port`, with brackets around an IPv6 literal: the form both HAProxy and nginx accept. */
export function formatEndpoint(address: ValidAddress, port: number): string {
  return address.kind === 'ipv6' ? `[${address.address}]:${port}` : `${address.address}:${port}`;
}

/** A name usable as an HTTP Host to route on: a DNS hostname, lowercase. */
export function validHostName(raw: string): string | undefined {
  const lower = raw.toLowerCase();
  return HOSTNAME.test(lower) ? lower : undefined;
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
