import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { consulBinary, haproxyBinary, nginxBinary, requireDocker } from './components.js';
import { CLI, switchyard, type CliResult } from './cli.js';
import { DockerHost } from './docker-host.js';
import { appArgs } from './docker.js';
import { freePort, waitFor } from './ports.js';
import { ConsulAcl, ConsulPki, SecureConsulAgent } from './secure-consul.js';

/**
 * A fleet on this one machine, the layout teams replacing Registrator + consul-template run:
 *
 * - a 3-server Consul cluster (TLS with certificates made at test time, gossip encryption, ACL
 *   default-deny bootstrapped here), each server on its own loopback address 127.0.B.1-3;
 * - Docker hosts: each its own dockerd (DockerHost), a Consul client agent on 127.0.B.1x and
 *   `switchyard run --no-render` against that agent with that dockerd as DOCKER_HOST;
 * - load-balancer hosts: each a client agent on 127.0.B.2x, `switchyard run --no-register` and its
 *   own proxy (HAProxy on the first, nginx on the second) listening on that address.
 *
 * Every role uses the least-privilege token made from docs/acl/<role>.hcl. close() ends exactly what
 * the fleet started, by PID, and removes its folders, dockerd data-roots and bridges.
 */

const run = promisify(execFile);

/** A child process the fleet owns: output kept for error messages, JSON log lines parsed. */
export class FleetProcess {
  private child?: ChildProcess;
  output = '';
  readonly lines: { at: number; level?: string; message?: string; [k: string]: unknown }[] = [];

  constructor(
    readonly name: string,
    private readonly command: string,
    private readonly args: readonly string[],
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  start(): this {
    if (this.running) return this;
    const child = spawn(this.command, this.args, { env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.on('error', () => undefined);
    this.child = child;
    let partial = '';
    child.stdout?.on('data', (b: Buffer) => {
      const s = b.toString();
      this.output = (this.output + s).slice(-50_000);
      partial += s;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        try {
          this.lines.push({ at: Date.now(), ...(JSON.parse(line) as object) });
        } catch {
          // not a JSON log line
        }
      }
    });
    child.stderr?.on('data', (b: Buffer) => (this.output = (this.output + b.toString()).slice(-50_000)));
    return this;
  }

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) this.child?.kill(sig);
  }

  /** SIGKILL and wait for the exit. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGKILL');
    await exited;
  }

  /** SIGTERM (SIGCONT first, in case it is stopped), SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** Log lines (parsed JSON) whose message matches, since `since` (ms epoch). */
  logged(re: RegExp, since = 0): { at: number; message?: string }[] {
    return this.lines.filter((l) => l.at >= since && re.test(String(l.message ?? '')));
  }
}

export interface FleetDockerHostSpec {
  /** 'published': containers publish -p <host address>::8080 (Registrator's layout); 'internal': advertised at their bridge IP. */
  layout: 'published' | 'internal';
}

export interface FleetOptions {
  dockerHosts?: FleetDockerHostSpec[];
  /** Load balancers, in order; default HAProxy then nginx. */
  lbs?: ('haproxy' | 'nginx')[];
  /**
   * Faster gossip failure detection than Consul's LAN defaults (probe 1 s, suspicion ×4), so a lost
   * node's serfHealth turns critical in about a second. Default true; docs/fleet.md gives both figures.
   */
  fastGossip?: boolean;
  /** The policies in docs/acl name the default prefix, `switchyard/`. */
  kvPrefix?: string;
}

/** Consul gossip settings for `fastGossip` (agent config `gossip_lan`). */
export const FAST_GOSSIP =
  'gossip_lan {\n  probe_interval = "200ms"\n  probe_timeout = "100ms"\n  suspicion_mult = 2\n}\n';

export interface FleetDockerHost {
  name: string;
  /** Its loopback address: its agent binds here; published ports bind here too. */
  address: string;
  layout: FleetDockerHostSpec['layout'];
  docker: DockerHost;
  agent: SecureConsulAgent;
  switchyard: FleetProcess;
}

export interface FleetLb {
  name: string;
  kind: 'haproxy' | 'nginx';
  address: string;
  port: number;
  dir: string;
  configPath: string;
  pidFile: string;
  agent: SecureConsulAgent;
  switchyard: FleetProcess;
  proxy?: FleetProcess;
}

export class Fleet {
  readonly servers: SecureConsulAgent[] = [];
  readonly hosts: FleetDockerHost[] = [];
  readonly lbs: FleetLb[] = [];
  acl!: ConsulAcl;
  readonly tokens: Record<'register' | 'render' | 'control', string> = { register: '', render: '', control: '' };
  private readonly processes: FleetProcess[] = [];
  private closed = false;

  private constructor(
    readonly dir: string,
    readonly pki: ConsulPki,
    /** Second and third octet of every address: 127.0.<subnet>.x, unique per fleet on this machine. */
    readonly subnet: number,
    readonly kvPrefix: string,
    private readonly options: FleetOptions,
  ) {}

  static async start(options: FleetOptions = {}): Promise<Fleet> {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing; run "npm run build" first`);
    requireDocker();
    const dir = mkdtempSync(path.join(tmpdir(), 'sy-fleet-'));
    const pki = await ConsulPki.create(path.join(dir, 'pki')).catch((err: unknown) => {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    });
    const subnet = 100 + (process.pid % 150);
    const fleet = new Fleet(dir, pki, subnet, options.kvPrefix ?? 'switchyard', options);
    try {
      fleet.gossipKey = (await run(consulBinary(), ['keygen'])).stdout.trim();
      await fleet.startCluster();
      const hosts = options.dockerHosts ?? [{ layout: 'published' }, { layout: 'published' }, { layout: 'internal' }];
      for (const [i, spec] of hosts.entries()) await fleet.addDockerHost(i + 1, spec);
      for (const [i, kind] of (options.lbs ?? ['haproxy', 'nginx']).entries()) await fleet.addLb(i + 1, kind);
    } catch (err) {
      await fleet.close().catch(() => undefined);
      throw err;
    }
    return fleet;
  }

  address(n: number): string {
    return `127.0.${this.subnet}.${n}`;
  }

  /** Gossip encryption key (`consul keygen`), set by start(). */
  private gossipKey = '';

  private get extraConfig(): string {
    return `encrypt = ${JSON.stringify(this.gossipKey)}\n${this.options.fastGossip === false ? '' : FAST_GOSSIP}`;
  }

  private async startCluster(): Promise<void> {
    const ports = await Promise.all([1, 2, 3].map(async () => ({ serf: await freePort(), server: await freePort() })));
    const join = ports.map((p, i) => `${this.address(i + 1)}:${p.serf}`);
    // One at a time: `consul tls cert create` numbers its files by what is in the folder.
    for (const [i, p] of ports.entries())
      this.servers.push(
        await SecureConsulAgent.start({
          pki: this.pki,
          server: true,
          bindAddr: this.address(i + 1),
          nodeName: `fleet-server-${i + 1}`,
          serfLanPort: p.serf,
          serverPort: p.server,
          bootstrapExpect: 3,
          retryJoin: join,
          dataDir: path.join(this.dir, `server-${i + 1}`),
          extraConfig: this.extraConfig,
        }),
      );
    this.acl = await ConsulAcl.bootstrap(this.servers[0]!);
    for (const s of this.servers) await this.setAgentToken(s);
    for (const role of ['register', 'render', 'control'] as const)
      this.tokens[role] = await this.acl.tokenFromPolicyFile(`switchyard-${role}`, `docs/acl/${role}.hcl`);
  }

  /** A follower may not have seen the ACL bootstrap yet ("ACL system must be bootstrapped"): retry. */
  private async setAgentToken(agent: SecureConsulAgent): Promise<void> {
    await waitFor(
      `the agent token set on ${agent.nodeName}`,
      async () => {
        await this.acl.setAgentToken(agent);
        return true;
      },
      30_000,
      250,
    );
  }

  private async clientAgent(name: string, address: string): Promise<SecureConsulAgent> {
    const agent = await SecureConsulAgent.start({
      pki: this.pki,
      server: false,
      bindAddr: address,
      nodeName: name,
      retryJoin: this.servers.map((s) => s.serfAddress),
      dataDir: path.join(this.dir, name),
      extraConfig: this.extraConfig,
    });
    await this.setAgentToken(agent);
    await waitFor(
      `node ${name} in the catalog`,
      async () =>
        (await this.servers[0]!.api<{ Node: string }[]>('GET', '/v1/catalog/nodes', this.acl.managementToken)).some(
          (n) => n.Node === name,
        ),
      30_000,
      200,
    );
    return agent;
  }

  /** The environment a Switchyard process needs to talk to `agent` over TLS with `token`. */
  consulEnv(agent: SecureConsulAgent, role: 'register' | 'render' | 'control'): Record<string, string> {
    const tokenFile = path.join(this.dir, `token-${role}`);
    if (!existsSync(tokenFile)) writeFileSync(tokenFile, `${this.tokens[role]}\n`, { mode: 0o600 });
    return {
      CONSUL_HTTP_ADDR: agent.url,
      CONSUL_CACERT: this.pki.caFile,
      CONSUL_CLIENT_CERT: agent.clientTls.cert,
      CONSUL_CLIENT_KEY: agent.clientTls.key,
      // The register role reads its token from a file, the others from the variable: both paths run.
      // The register role reads its token from a file, the others from the variable: both paths run.
      ...(role === 'register' ? { CONSUL_HTTP_TOKEN_FILE: tokenFile } : { CONSUL_HTTP_TOKEN: this.tokens[role] }),
      SWITCHYARD_KV_PREFIX: this.kvPrefix,
      SWITCHYARD_LOG_FORMAT: 'json',
    };
  }

  private process(name: string, args: string[], env: Record<string, string>): FleetProcess {
    const p = new FleetProcess(name, process.execPath, [CLI, ...args], { ...process.env, ...env });
    this.processes.push(p);
    return p;
  }

  private async addDockerHost(n: number, spec: FleetDockerHostSpec): Promise<void> {
    const name = `fleet-h${n}`;
    const address = this.address(10 + n);
    const docker = await DockerHost.start({ name, liveRestore: true });
    try {
      const agent = await this.clientAgent(name, address);
      const switchyard = this.process(
        `${name} register role`,
        [
          'run',
          '--no-render',
          '--resync',
          '5s',
          '--http-listen',
          'off',
          ...(spec.layout === 'internal' ? ['--internal'] : []),
        ],
        { ...this.consulEnv(agent, 'register'), DOCKER_HOST: docker.dockerHost },
      ).start();
      this.hosts.push({ name, address, layout: spec.layout, docker, agent, switchyard });
    } catch (err) {
      await docker.close();
      throw err;
    }
  }

  /** Runs one app container on `host` (service `service`, `color`), published or internal per the host's layout. */
  async runApp(
    host: FleetDockerHost,
    service: string,
    color: string,
    name: string,
    extra: string[] = [],
  ): Promise<string> {
    return host.docker.run([
      '--name',
      name,
      '--hostname',
      name,
      ...appArgs({ color, service }),
      ...(host.layout === 'published' ? ['-p', `${host.address}::8080`] : ['--expose', '8080']),
      ...extra,
    ]);
  }

  private async addLb(n: number, kind: 'haproxy' | 'nginx'): Promise<void> {
    const name = `fleet-lb${n}`;
    const address = this.address(20 + n);
    const dir = path.join(this.dir, name);
    mkdirSync(dir, { recursive: true });
    const agent = await this.clientAgent(name, address);
    const port = await freePort();
    const lb: FleetLb = {
      name,
      kind,
      address,
      port,
      dir,
      configPath: path.join(dir, kind === 'haproxy' ? 'haproxy.cfg' : 'nginx.conf'),
      pidFile: path.join(dir, `${kind}.pid`),
      agent,
      switchyard: this.process(
        `${name} render role`,
        [
          'run',
          '--no-register',
          '--proxy',
          kind,
          '--proxy-binary',
          kind === 'haproxy' ? haproxyBinary() : nginxBinary(),
          '--config',
          path.join(dir, kind === 'haproxy' ? 'haproxy.cfg' : 'nginx.conf'),
          '--proxy-pid-file',
          path.join(dir, `${kind}.pid`),
          '--template-param',
          `bind=${address},statsPort=0,log=none,previewPort=0,mainPort=${port}`,
          '--template-param',
          kind === 'haproxy' ? `adminSocket=${path.join(dir, 'admin.sock')}` : `pidFile=${path.join(dir, 'nginx.pid')}`,
          ...(kind === 'nginx' ? ['--template-param', `tempDir=${dir}`] : []),
          '--retry-delay',
          '1s',
          '--wait',
          '50ms:500ms',
          '--http-listen',
          'off',
        ],
        this.consulEnv(agent, 'render'),
      ),
    };
    this.lbs.push(lb);
    await this.startLb(lb);
  }

  /** Starts the LB's render role, and its proxy once the first config is installed. */
  async startLb(lb: FleetLb): Promise<void> {
    lb.switchyard.start();
    await waitFor(
      `${lb.name}'s first config`,
      () => {
        if (!lb.switchyard.running)
          throw new Error(`${lb.switchyard.name} exited: ${lb.switchyard.output.slice(-3000)}`);
        return existsSync(lb.configPath);
      },
      60_000,
      100,
    );
    if (!lb.proxy || !lb.proxy.running) {
      lb.proxy = new FleetProcess(
        `${lb.name} ${lb.kind}`,
        lb.kind === 'haproxy' ? haproxyBinary() : nginxBinary(),
        lb.kind === 'haproxy'
          ? ['-W', '-f', lb.configPath, '-p', lb.pidFile]
          : ['-c', lb.configPath, '-g', 'daemon off;'],
        process.env,
      ).start();
      this.processes.push(lb.proxy);
      await waitFor(
        `${lb.name} ${lb.kind} listening on ${lb.address}:${lb.port}`,
        async () => {
          if (!lb.proxy!.running) throw new Error(`${lb.kind} exited: ${lb.proxy!.output.slice(-2000)}`);
          await (await fetch(this.url(lb), { signal: AbortSignal.timeout(2000) })).text();
          return true;
        },
        20_000,
        100,
      );
    }
  }

  url(lb: FleetLb): string {
    return `http://${lb.address}:${lb.port}/`;
  }

  /** One GET through `lb`: the body's first line (`<color> <version> <hostname>`), or the failure. */
  async get(lb: FleetLb, timeoutMs = 3000): Promise<string> {
    const res = await fetch(this.url(lb), { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.text()).trim();
    if (res.status !== 200) throw new Error(`HTTP ${res.status} from ${lb.name}: ${body.slice(0, 200)}`);
    return body;
  }

  /** `switchyard <args>` (a control command) against `agent` with the control token; also how long it took. */
  async control(
    args: string[],
    agent: SecureConsulAgent = this.lbs[0]!.agent,
    timeoutMs = 120_000,
  ): Promise<CliResult & { ms: number }> {
    const started = Date.now();
    const env = { ...this.consulEnv(agent, 'control'), SWITCHYARD_LOG_FORMAT: 'text', SWITCHYARD_BY: 'fleet@test' };
    const result = await switchyard(args, env, timeoutMs);
    return { ...result, ms: Date.now() - started };
  }

  /** GET a Consul API path with the management token, through the first server that answers. */
  async consul<T>(apiPath: string): Promise<T> {
    let last: unknown;
    for (const s of this.servers) {
      try {
        return await s.api<T>('GET', apiPath, this.acl.managementToken);
      } catch (err) {
        last = err;
      }
    }
    throw last;
  }

  /**
   * Ends everything the fleet started, each step even when one fails: Switchyard processes and
   * proxies (by PID), Docker hosts, client agents, servers, then the fleet's folder. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const errors: unknown[] = [];
    const step = async (f: () => Promise<unknown>) => {
      try {
        await f();
      } catch (err) {
        errors.push(err);
      }
    };
    for (const p of [...this.processes].reverse()) await step(() => p.stop(5_000));
    for (const h of this.hosts) await step(() => h.docker.close());
    for (const a of [...this.hosts.map((h) => h.agent), ...this.lbs.map((l) => l.agent), ...this.servers])
      await step(() => a.stop());
    await step(async () => rmSync(this.dir, { recursive: true, force: true }));
    if (errors.length > 0) throw new AggregateError(errors, `closing the fleet: ${errors.length} step(s) failed`);
  }
}

/** Reads a file, or '' when it does not exist. */
export function readOr(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
