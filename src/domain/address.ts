import { isIPv4, isIPv6 } from 'node:net';

/**
 * The one address rule: what may stand as an instance's address in a snapshot and in a proxy
 * config. The snapshot builder refuses anything else; the templates format what it accepts.
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
  if (isIPv6(bare) && !bare.includes('%')) return { address: bare.toLowerCase(), kind: 'ipv6' };
  const lower = raw.toLowerCase();
  if (HOSTNAME.test(lower)) return { address: lower, kind: 'hostname' };
  return undefined;
}

/** A name usable as an HTTP Host to route on: a DNS hostname, lowercase. */
export function validHostName(raw: string): string | undefined {
  const lower = raw.toLowerCase();
  return HOSTNAME.test(lower) ? lower : undefined;
}
