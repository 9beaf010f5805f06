import { ConsulAclError, ConsulError, ConsulTlsError } from '../errors.js';

/**
 * What a Consul request was for, in ACL terms: the permission it needs. Used to name the operation
 * and the resource when Consul refuses it without saying which permission was missing.
 */
export interface ConsulOperation {
  /** For messages: "register service web-1", "kv put switchyard/services/app/state". */
  what: string;
  access: 'read' | 'write';
  /** The ACL resource kind: service, key, node, agent, session. */
  resource: 'service' | 'key' | 'node' | 'agent' | 'session';
  /** The resource's name (a service name, a key, a node name). */
  name: string;
}

/** Everything known about one failed request, gathered by the adapter; never holds the token. */
export interface ConsulFailure {
  operation: ConsulOperation;
  /** The agent's address as configured (scheme://host:port). */
  address: string;
  /** The HTTP status, when Consul answered. */
  statusCode?: number;
  /** Consul's answer body (text), when it answered. */
  body?: string;
  /** Node's error code (ECONNREFUSED, UNABLE_TO_VERIFY_LEAF_SIGNATURE, ERR_SSL_…), when the connection failed. */
  code?: string;
  /** The underlying error's message. */
  message?: string;
}

const UNTRUSTED_SERVER = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
]);
const EXPIRED_SERVER = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
const CLIENT_CERT_REFUSED = new Set([
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
  'ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED',
  'ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE',
  'ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR',
  'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED',
]);
const NOT_HTTPS = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'EPROTO']);

// Consul 1.x: "Permission denied: token with AccessorID '…' lacks permission 'service:write' on \"app\""
// (older: "…: Missing service:write on app"). The accessor ID is public, but the line does not need it.
const LACKS = /lacks permission '([a-z_]+):([a-z]+)' on "([^"]*)"/i;
const MISSING = /Missing ([a-z_]+):([a-z]+) on (\S+)/i;

/**
 * The one place that turns a failed Consul request into a typed error with one clear line: an ACL
 * refusal names the operation and the resource, a TLS failure says which side's certificate is
 * wrong and which setting fixes it. Pure: the adapter gathers the facts, this decides the words.
 */
export function classifyConsulFailure(f: ConsulFailure): ConsulError {
  const { operation: op, address, statusCode: status } = f;
  const body = (f.body ?? '').trim();

  if (status === 403) {
    if (/ACL not found/i.test(body))
      return new ConsulAclError(
        `Consul ACL: the token is not known to Consul (unknown, deleted or expired) — cannot ${op.what} (403)`,
        403,
      );
    const m = LACKS.exec(body) ?? MISSING.exec(body);
    const [resource, access, name] = m ? [m[1]!, m[2]!, m[3]!] : [op.resource, op.access, op.name];
    const who = /anonymous token/i.test(body) ? 'no token (anonymous)' : 'token';
    return new ConsulAclError(`Consul ACL: ${who} may not ${access} ${resource} "${name}" (403)`, 403);
  }
  if (status === 400 && /HTTP request to an HTTPS server/i.test(body))
    return new ConsulTlsError(
      `Consul TLS: ${address} only speaks HTTPS — use https:// in --consul-addr (CONSUL_HTTP_ADDR) — cannot ${op.what}`,
      400,
    );
  if (status !== undefined) {
    const detail = body ? `: ${oneLine(body)}` : f.message ? `: ${oneLine(f.message)}` : '';
    return new ConsulError(`Consul ${op.what} at ${address} failed (HTTP ${status})${detail}`, status);
  }

  const code = f.code ?? '';
  const tag = code ? ` (${code})` : '';
  if (UNTRUSTED_SERVER.has(code))
    return new ConsulTlsError(
      `Consul TLS: the certificate of ${address} is not signed by a trusted CA${tag} — set --consul-cacert or --consul-capath (CONSUL_CACERT, CONSUL_CAPATH) to Consul's CA`,
    );
  if (EXPIRED_SERVER.has(code))
    return new ConsulTlsError(`Consul TLS: the certificate of ${address} is expired or not yet valid${tag}`);
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return new ConsulTlsError(
      `Consul TLS: the certificate of ${address} is not valid for the name asked for${tag} — set --consul-tls-server-name (CONSUL_TLS_SERVER_NAME) to a name it holds, such as server.<datacenter>.consul`,
    );
  if (code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED')
    return new ConsulTlsError(
      `Consul TLS: ${address} requires a client certificate${tag} — set --consul-client-cert and --consul-client-key (CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY)`,
    );
  if (CLIENT_CERT_REFUSED.has(code))
    return new ConsulTlsError(
      `Consul TLS: ${address} refused the client certificate${tag} — it must be signed by the CA Consul trusts and be valid now`,
    );
  if (NOT_HTTPS.has(code) || /wrong version number/i.test(f.message ?? ''))
    return new ConsulTlsError(
      `Consul TLS: ${address} does not answer HTTPS${tag} — use http:// or the agent's HTTPS port in --consul-addr (CONSUL_HTTP_ADDR)`,
    );
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'))
    return new ConsulTlsError(`Consul TLS: the connection to ${address} failed${tag}: ${oneLine(f.message ?? '')}`);
  return new ConsulError(`Consul ${op.what} at ${address} failed${tag}: ${oneLine(f.message ?? 'unknown error')}`);
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim().slice(0, 300);
}
