import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { consulBinary } from './components.js';
import { freePort, waitFor } from './ports.js';

/**
 * A production-shaped Consul for tests: HTTPS only (no plain HTTP port), certificates made at test
 * time with `consul tls ca create` / `consul tls cert create`, ACLs on with default deny and
 * bootstrapped through the API. The pieces are separate so a cluster (several servers, clients on
 * their own 127.0.0.x addresses, retry-join) can be assembled from them:
 *
 *   const pki = await ConsulPki.create();
 *   const server = await SecureConsulAgent.start({ pki, server: true, bindAddr: '127.0.0.1' });
 *   const acl = await ConsulAcl.bootstrap(server);          // management token + agent tokens
 *   await acl.setAgentToken(server);
 *   const token = await acl.tokenFromPolicyFile('render', 'docs/acl/render.hcl');
 *
 * `startSecureConsul()` does all of that for the usual one-server case.
 */

const run = promisify(execFile);

export interface TlsFiles {
  cert: string;
  key: string;
}

/** A private CA made by `consul tls ca create`, and certificates it signs. */
export class ConsulPki {
  private constructor(
    readonly dir: string,
    readonly caFile: string,
    readonly datacenter: string,
  ) {}

  static async create(dir = mkdtempSync(path.join(tmpdir(), 'sy-pki-')), datacenter = 'dc1'): Promise<ConsulPki> {
    mkdirSync(dir, { recursive: true });
    await run(consulBinary(), ['tls', 'ca', 'create', '-days=30'], { cwd: dir });
    return new ConsulPki(dir, path.join(dir, 'consul-agent-ca.pem'), datacenter);
  }

  /**
   * `consul tls cert create -server|-client`, valid for `ips` as well as Consul's default names
   * (server.<dc>.consul, localhost, 127.0.0.1). Files are numbered by Consul; the new pair is found
   * by what appeared in the folder.
   */
  async cert(kind: 'server' | 'client' | 'cli', ips: readonly string[] = []): Promise<TlsFiles> {
    const before = new Set(readdirSync(this.dir));
    await run(
      consulBinary(),
      [
        'tls',
        'cert',
        'create',
        `-${kind}`,
        `-dc=${this.datacenter}`,
        ...ips.map((ip) => `-additional-ipaddress=${ip}`),
      ],
      { cwd: this.dir },
    );
    const added = readdirSync(this.dir).filter((f) => !before.has(f));
    const key = added.find((f) => f.endsWith('-key.pem'));
    const cert = added.find((f) => f.endsWith('.pem') && !f.endsWith('-key.pem'));
    if (!key || !cert) throw new Error(`consul tls cert create -${kind} made no certificate pair: ${added.join(', ')}`);
    return { cert: path.join(this.dir, cert), key: path.join(this.dir, key) };
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface SecureAgentOptions {
  pki: ConsulPki;
  server: boolean;
  /** Loopback address the agent binds and serves on (127.0.0.x). */
  bindAddr?: string;
  nodeName?: string;
  httpsPort?: number;
  serfLanPort?: number;
  serverPort?: number;
  /** Servers expected before the first leader election (servers only; default 1). */
  bootstrapExpect?: number;
  /** `host:serf-lan-port` of agents to join. */
  retryJoin?: readonly string[];
  /** Kept across restart() when given; a temp dir removed by stop() otherwise. */
  dataDir?: string;
  /** Require a client certificate on the HTTPS API (default true). */
  verifyIncomingHttps?: boolean;
  datacenter?: string;
  logLevel?: string;
}

/** One non-dev Consul agent with TLS and ACLs (default deny). */
export class SecureConsulAgent {
  private child?: ChildProcess;
  private output = '';
  private ownDataDir: boolean;
  readonly dataDir: string;
  readonly configFile: string;
  /** The certificate this agent serves; also usable as a client certificate by tests. */
  readonly tls: TlsFiles;
  /** A client certificate for callers of this agent's HTTPS API. */
  readonly clientTls: TlsFiles;

  private constructor(
    readonly options: Required<Omit<SecureAgentOptions, 'dataDir' | 'retryJoin'>> & { retryJoin: readonly string[] },
    dataDir: string | undefined,
    tls: TlsFiles,
    clientTls: TlsFiles,
  ) {
    this.ownDataDir = dataDir === undefined;
    this.dataDir = dataDir ?? mkdtempSync(path.join(tmpdir(), 'sy-consul-secure-'));
    mkdirSync(this.dataDir, { recursive: true });
    this.configFile = path.join(this.dataDir, '..', `${path.basename(this.dataDir)}.hcl`);
    this.tls = tls;
    this.clientTls = clientTls;
  }

  static async start(options: SecureAgentOptions): Promise<SecureConsulAgent> {
    const bindAddr = options.bindAddr ?? '127.0.0.1';
    const full = {
      pki: options.pki,
      server: options.server,
      bindAddr,
      nodeName: options.nodeName ?? `sy-secure-${process.pid}-${Math.random().toString(36).slice(2, 7)}`,
      httpsPort: options.httpsPort ?? (await freePort()),
      serfLanPort: options.serfLanPort ?? (await freePort()),
      serverPort: options.serverPort ?? (await freePort()),
      bootstrapExpect: options.bootstrapExpect ?? 1,
      retryJoin: options.retryJoin ?? [],
      verifyIncomingHttps: options.verifyIncomingHttps ?? true,
      datacenter: options.datacenter ?? options.pki.datacenter,
      logLevel: options.logLevel ?? 'warn',
    };
    const tls = await options.pki.cert(options.server ? 'server' : 'client', [bindAddr]);
    const clientTls = await options.pki.cert('cli');
    const agent = new SecureConsulAgent(full, options.dataDir, tls, clientTls);
    await agent.startProcess();
    return agent;
  }

  /** `host:port` of the HTTPS API. */
  get address(): string {
    return `${this.options.bindAddr}:${this.options.httpsPort}`;
  }

  get url(): string {
    return `https://${this.address}`;
  }

  /** `host:port` others retry-join. */
  get serfAddress(): string {
    return `${this.options.bindAddr}:${this.options.serfLanPort}`;
  }

  get nodeName(): string {
    return this.options.nodeName;
  }

  get logs(): string {
    return this.output;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private config(): string {
    const o = this.options;
    const q = JSON.stringify;
    return `
datacenter = ${q(o.datacenter)}
node_name = ${q(o.nodeName)}
data_dir = ${q(this.dataDir)}
bind_addr = ${q(o.bindAddr)}
advertise_addr = ${q(o.bindAddr)}
client_addr = ${q(o.bindAddr)}
# No phoning home from a test (HashiCorp's update checkpoint is off this machine).
disable_update_check = true
log_level = ${q(o.logLevel)}
server = ${o.server}
${o.server ? `bootstrap_expect = ${o.bootstrapExpect}` : ''}
retry_join = ${q(o.retryJoin)}
retry_interval = "1s"
ports {
  http = -1
  https = ${o.httpsPort}
  dns = -1
  grpc = -1
  grpc_tls = -1
  serf_wan = -1
  serf_lan = ${o.serfLanPort}
  server = ${o.serverPort}
}
performance { raft_multiplier = 1 }
tls {
  defaults {
    ca_file = ${q(o.pki.caFile)}
    cert_file = ${q(this.tls.cert)}
    key_file = ${q(this.tls.key)}
    verify_incoming = false
    verify_outgoing = true
  }
  https { verify_incoming = ${o.verifyIncomingHttps} }
  internal_rpc {
    verify_incoming = true
    verify_server_hostname = true
  }
}
acl {
  enabled = true
  default_policy = "deny"
  down_policy = "extend-cache"
  enable_token_persistence = true
}
`;
  }

  private async startProcess(): Promise<void> {
    writeFileSync(this.configFile, this.config());
    const child = spawn(consulBinary(), ['agent', `-config-file=${this.configFile}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CHECKPOINT_DISABLE: '1' },
    });
    this.child = child;
    const collect = (b: Buffer) => {
      this.output = (this.output + b.toString()).slice(-40_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    await waitFor(
      `secure consul agent ${this.options.nodeName} to answer on ${this.url}`,
      async () => {
        if (child.exitCode !== null)
          throw new Error(`consul exited with ${child.exitCode}: ${this.output.slice(-3000)}`);
        // /v1/status/leader needs no token; any answer means HTTPS is up.
        const res = await this.request('GET', '/v1/status/peers');
        return res.status === 200;
      },
      30_000,
      200,
    );
  }

  /** Waits until the cluster this agent is in has a leader. */
  async waitForLeader(timeoutMs = 60_000): Promise<string> {
    return waitFor(
      `a Consul leader seen from ${this.options.nodeName}`,
      async () => {
        const res = await this.request('GET', '/v1/status/leader');
        const leader = JSON.parse(res.body) as string;
        return leader || false;
      },
      timeoutMs,
      200,
    );
  }

  /** An HTTPS request to this agent with its CA and a client certificate. */
  request(
    method: string,
    apiPath: string,
    body?: unknown,
    token?: string,
  ): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
    return httpsRequest(this.url, method, apiPath, {
      ca: readFileSync(this.options.pki.caFile),
      cert: readFileSync(this.clientTls.cert),
      key: readFileSync(this.clientTls.key),
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      ...(token ? { token } : {}),
    });
  }

  /** Like request(), but fails unless Consul answers 2xx; parses JSON. */
  async api<T = unknown>(method: string, apiPath: string, token: string, body?: unknown): Promise<T> {
    const res = await this.request(method, apiPath, body, token);
    if (res.status < 200 || res.status > 299)
      throw new Error(`${method} ${apiPath}: HTTP ${res.status} ${res.body.slice(0, 500)}`);
    return (res.body ? JSON.parse(res.body) : undefined) as T;
  }

  /** Sends a signal to the agent process (SIGSTOP/SIGCONT/SIGKILL for failure tests). */
  signal(sig: NodeJS.Signals): void {
    this.child?.kill(sig);
  }

  async stopProcess(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }

  /** Restarts with the same config and data dir (registrations and ACL tokens persist). */
  async restart(): Promise<void> {
    await this.stopProcess();
    await this.startProcess();
  }

  async stop(): Promise<void> {
    await this.stopProcess();
    rmSync(this.configFile, { force: true });
    if (this.ownDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** ACL administration through a management token obtained from `PUT /v1/acl/bootstrap`. */
export class ConsulAcl {
  private constructor(
    private readonly via: SecureConsulAgent,
    readonly managementToken: string,
    readonly agentToken: string,
  ) {}

  /** Bootstraps the ACL system of the cluster `via` belongs to and makes an agent token. */
  static async bootstrap(via: SecureConsulAgent): Promise<ConsulAcl> {
    await via.waitForLeader();
    // The ACL system may take a moment after the first election before it accepts bootstrap.
    const mgmt = await waitFor(
      'ACL bootstrap',
      async () => {
        const res = await via.request('PUT', '/v1/acl/bootstrap');
        if (res.status !== 200) throw new Error(`HTTP ${res.status} ${res.body}`);
        return (JSON.parse(res.body) as { SecretID: string }).SecretID;
      },
      30_000,
      500,
    );
    // Agents register their own node and sync services with the agent token.
    const policy = await via.api<{ ID: string }>('PUT', '/v1/acl/policy', mgmt, {
      Name: 'test-agents',
      Rules: 'node_prefix "" { policy = "write" }\nservice_prefix "" { policy = "read" }',
    });
    const agent = await via.api<{ SecretID: string }>('PUT', '/v1/acl/token', mgmt, {
      Description: 'agents',
      Policies: [{ ID: policy.ID }],
    });
    return new ConsulAcl(via, mgmt, agent.SecretID);
  }

  /** Gives `agent` the agent token, so it can register its node and sync services. */
  async setAgentToken(agent: SecureConsulAgent): Promise<void> {
    await agent.api('PUT', '/v1/agent/token/agent', this.managementToken, { Token: this.agentToken });
  }

  /** Creates a policy from an HCL rules file (created once per name) and a token holding it. */
  async tokenFromPolicyFile(name: string, rulesFile: string): Promise<string> {
    return this.tokenFromRules(name, readFileSync(rulesFile, 'utf8'));
  }

  async tokenFromRules(name: string, rules: string): Promise<string> {
    const existing = await this.via.request('GET', `/v1/acl/policy/name/${name}`, undefined, this.managementToken);
    const id =
      existing.status === 200
        ? (JSON.parse(existing.body) as { ID: string }).ID
        : (
            await this.via.api<{ ID: string }>('PUT', '/v1/acl/policy', this.managementToken, {
              Name: name,
              Rules: rules,
            })
          ).ID;
    const token = await this.via.api<{ SecretID: string; AccessorID: string }>(
      'PUT',
      '/v1/acl/token',
      this.managementToken,
      { Description: `test token for ${name}`, Policies: [{ ID: id }] },
    );
    return token.SecretID;
  }

  /** Deletes a token by its secret, as an operator revoking it would. */
  async deleteToken(secret: string): Promise<void> {
    const self = await this.via.api<{ AccessorID: string }>('GET', '/v1/acl/token/self', secret);
    await this.via.api('DELETE', `/v1/acl/token/${self.AccessorID}`, this.managementToken);
  }
}

export interface SecureConsul {
  pki: ConsulPki;
  agent: SecureConsulAgent;
  acl: ConsulAcl;
  stop(): Promise<void>;
}

/** One TLS + default-deny ACL server agent, bootstrapped, with its agent token set. */
export async function startSecureConsul(options: Partial<SecureAgentOptions> = {}): Promise<SecureConsul> {
  const pki = options.pki ?? (await ConsulPki.create());
  const agent = await SecureConsulAgent.start({ ...options, pki, server: true });
  try {
    const acl = await ConsulAcl.bootstrap(agent);
    await acl.setAgentToken(agent);
    // The agent registers its node once it has a token; the catalog is usable from then on.
    await waitFor(
      `node ${agent.nodeName} in the catalog`,
      async () => {
        const nodes = await agent.api<unknown[]>('GET', '/v1/catalog/nodes', acl.managementToken);
        return nodes.length > 0;
      },
      30_000,
      200,
    );
    return {
      pki,
      agent,
      acl,
      async stop() {
        await agent.stop();
        if (!options.pki) pki.remove();
      },
    };
  } catch (err) {
    await agent.stop();
    if (!options.pki) pki.remove();
    throw err;
  }
}

export function httpsRequest(
  baseUrl: string,
  method: string,
  apiPath: string,
  o: { ca?: Buffer; cert?: Buffer; key?: Buffer; body?: string; token?: string; servername?: string },
): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${baseUrl}${apiPath}`,
      {
        method,
        ...(o.ca ? { ca: o.ca } : {}),
        ...(o.cert ? { cert: o.cert } : {}),
        ...(o.key ? { key: o.key } : {}),
        ...(o.servername ? { servername: o.servername } : {}),
        headers: o.token ? { 'X-Consul-Token': o.token } : {},
        timeout: 10_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${apiPath}: timed out`)));
    req.on('error', reject);
    req.end(o.body);
  });
}
