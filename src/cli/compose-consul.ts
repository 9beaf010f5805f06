import { parseConsulAddress } from '../consul/consul-connection.js';
import { ConsulHttpClient } from '../consul/consul-http-client.js';
import { ConfigError, errorMessage } from '../errors.js';
import type { CommonOptions } from './common-options.js';

// The composition root's Consul part (src/cli/compose.ts re-exports it), in a module of its own so
// the control commands (switch, status, …) load only this and not the daemon's parts: dockerode,
// prom-client, eta and chokidar cost them most of their start time (docs/performance.md;
// test/unit/cli/command-loading.test.ts checks).

/**
 * The Consul client every command uses, from the shared options (the Consul CLI's CONSUL_* settings).
 * Reads the TLS and token files now, so a bad address or an unreadable file is a ConfigError (exit
 * code 2) naming it, from every command.
 */
export function consulClient(o: CommonOptions): ConsulHttpClient {
  try {
    parseConsulAddress(o.consulAddr, o.consulHttpSsl);
  } catch (err) {
    throw new ConfigError(`option '--consul-addr' (CONSUL_HTTP_ADDR): ${errorMessage(err)}`, { cause: err });
  }
  try {
    return new ConsulHttpClient({
      address: o.consulAddr,
      httpSsl: o.consulHttpSsl,
      sslVerify: o.consulSslVerify,
      ...(o.consulToken ? { token: o.consulToken } : {}),
      ...(o.consulTokenFile ? { tokenFile: o.consulTokenFile } : {}),
      ...(o.consulCacert ? { caFile: o.consulCacert } : {}),
      ...(o.consulCapath ? { caPath: o.consulCapath } : {}),
      ...(o.consulClientCert ? { clientCert: o.consulClientCert } : {}),
      ...(o.consulClientKey ? { clientKey: o.consulClientKey } : {}),
      ...(o.consulTlsServerName ? { tlsServerName: o.consulTlsServerName } : {}),
    });
  } catch (err) {
    throw new ConfigError(`Consul connection: ${errorMessage(err)}`, { cause: err });
  }
}
