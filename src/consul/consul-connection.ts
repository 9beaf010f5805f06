import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, errorMessage } from '../errors.js';

/**
 * How to reach Consul, in the Consul CLI's own terms (CONSUL_HTTP_ADDR, CONSUL_HTTP_SSL,
 * CONSUL_CACERT, CONSUL_CAPATH, CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY, CONSUL_TLS_SERVER_NAME,
 * CONSUL_HTTP_SSL_VERIFY, CONSUL_HTTP_TOKEN, CONSUL_HTTP_TOKEN_FILE), so an operator's existing
 * environment works unchanged.
 */
export interface ConsulConnectionSettings {
  /** `host:port`, `http://host:port` or `https://host:port`. */
  address: string;
  /** Use HTTPS for a bare `host:port` (CONSUL_HTTP_SSL). */
  httpSsl?: boolean;
  token?: string;
  /** A file holding the token; wins over `token` when it is not empty, as in the Consul CLI. */
  tokenFile?: string;
  caFile?: string;
  /** A folder of PEM CA certificates. */
  caPath?: string;
  clientCert?: string;
  clientKey?: string;
  /** SNI and certificate name to verify instead of the address's host. */
  tlsServerName?: string;
  /** false: do not verify Consul's certificate (CONSUL_HTTP_SSL_VERIFY=false). Default true. */
  sslVerify?: boolean;
}

/** TLS settings for node's https agent: file contents, read once at start. */
export interface ConsulTls {
  ca?: Buffer[];
  cert?: Buffer;
  key?: Buffer;
  servername?: string;
  rejectUnauthorized: boolean;
}

export interface ConsulEndpoint {
  host: string;
  port: number;
  secure: boolean;
  /** scheme://host:port, for messages. */
  url: string;
}

export function parseConsulAddress(address: string, httpSsl = false): ConsulEndpoint {
  const withScheme = /^[a-z]+:\/\//i.test(address) ? address : `${httpSsl ? 'https' : 'http'}://${address}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch (err) {
    throw new ConfigError(`invalid Consul address "${address}": expected host:port or http(s)://host:port`, {
      cause: err,
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ConfigError(`invalid Consul address "${address}": the scheme must be http:// or https://`);
  const secure = url.protocol === 'https:';
  const port = url.port ? Number(url.port) : secure ? 443 : 8500;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return {
    host,
    port,
    secure,
    url: `${secure ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`,
  };
}

function readSetting(file: string, setting: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(`${setting}: cannot read ${file}: ${errorMessage(err)}`, { cause: err });
  }
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function pemCertificates(pem: Buffer, file: string, setting: string): Buffer[] {
  const certs = pem.toString('utf8').match(PEM_CERT);
  if (!certs) throw new ConfigError(`${setting}: ${file} holds no PEM certificate`);
  return certs.map((c) => Buffer.from(`${c}\n`));
}

/**
 * Reads the TLS files once at start. A missing or unreadable file, a CA file without a certificate,
 * or a certificate without its key is a configuration error naming the setting; TLS settings with a
 * plain-HTTP address are refused too, since they would silently not be used.
 */
export function loadConsulTls(s: ConsulConnectionSettings, endpoint: ConsulEndpoint): ConsulTls | undefined {
  const given = [
    s.caFile && 'CONSUL_CACERT',
    s.caPath && 'CONSUL_CAPATH',
    s.clientCert && 'CONSUL_CLIENT_CERT',
    s.clientKey && 'CONSUL_CLIENT_KEY',
    s.tlsServerName && 'CONSUL_TLS_SERVER_NAME',
  ].filter(Boolean);
  if (!endpoint.secure) {
    if (given.length > 0)
      throw new ConfigError(
        `${given.join(', ')} set but the Consul address ${endpoint.url} is plain HTTP: use https:// (or CONSUL_HTTP_SSL=true)`,
      );
    return undefined;
  }
  if (Boolean(s.clientCert) !== Boolean(s.clientKey))
    throw new ConfigError('CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY go together: set both or neither');
  const ca: Buffer[] = [];
  if (s.caFile) ca.push(...pemCertificates(readSetting(s.caFile, 'CONSUL_CACERT'), s.caFile, 'CONSUL_CACERT'));
  if (s.caPath) {
    let names: string[];
    try {
      names = readdirSync(s.caPath).sort();
    } catch (err) {
      throw new ConfigError(`CONSUL_CAPATH: cannot read the folder ${s.caPath}: ${errorMessage(err)}`, { cause: err });
    }
    for (const name of names) {
      const file = path.join(s.caPath, name);
      if (!statSync(file).isFile()) continue;
      const pem = readSetting(file, 'CONSUL_CAPATH').toString('utf8').match(PEM_CERT);
      // Like Consul's own loader: every file that holds certificates; others (keys, READMEs) are skipped.
      if (pem) ca.push(...pem.map((c) => Buffer.from(`${c}\n`)));
    }
    if (ca.length === 0) throw new ConfigError(`CONSUL_CAPATH: ${s.caPath} holds no PEM certificate`);
  }
  return {
    ...(ca.length > 0 ? { ca } : {}),
    ...(s.clientCert ? { cert: readSetting(s.clientCert, 'CONSUL_CLIENT_CERT') } : {}),
    ...(s.clientKey ? { key: readSetting(s.clientKey, 'CONSUL_CLIENT_KEY') } : {}),
    ...(s.tlsServerName ? { servername: s.tlsServerName } : {}),
    rejectUnauthorized: s.sslVerify ?? true,
  };
}

/** Where each request's ACL token comes from. Never logged: callers only pass it on as a header. */
export interface TokenSource {
  token(): string | undefined;
}

/** How often a token file's mtime is looked at; a rotated token is used within this long. */
export const TOKEN_FILE_CHECK_MS = 1_000;

/**
 * CONSUL_HTTP_TOKEN_FILE wins over CONSUL_HTTP_TOKEN when it holds a token, as in the Consul CLI. The
 * file is read at start (unreadable: a configuration error) and again when its mtime or size
 * changes, so a rotated token is picked up without a restart. A file that cannot be read later keeps
 * the last token.
 */
export function tokenSource(
  s: Pick<ConsulConnectionSettings, 'token' | 'tokenFile'>,
  now: () => number = Date.now,
): TokenSource {
  const fixed = s.token?.trim() || undefined;
  const file = s.tokenFile;
  if (!file) return { token: () => fixed };
  const read = () => readSetting(file, 'CONSUL_HTTP_TOKEN_FILE').toString('utf8').trim() || undefined;
  const stamp = () => {
    const st = statSync(file);
    return `${st.mtimeMs}:${st.size}`;
  };
  let current = read();
  let seen = stamp();
  let checkedAt = now();
  return {
    token() {
      if (now() - checkedAt >= TOKEN_FILE_CHECK_MS) {
        checkedAt = now();
        try {
          const st = stamp();
          if (st !== seen) {
            current = read();
            seen = st;
          }
        } catch {
          // Mid-rotation (the file replaced) or gone: keep the last token; the next check retries.
        }
      }
      return current ?? fixed;
    },
  };
}
