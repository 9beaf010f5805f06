import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { errorMessage } from '../../src/errors.js';
import { META_COLOR } from '../../src/registrar/meta-keys.js';
import { imageBaseName } from '../../src/registrar/service-definitions.js';
import { OwnedProcess } from './child.js';
import { CLI, requireBuiltCli, switchyard, type CliResult } from './cli.js';
import { haproxyBinary, nginxBinary, requireDocker, testImage } from './components.js';
import { TestConsulAgent } from './consul-agent.js';
import { appArgs, TestContainers } from './docker.js';
import { freePort, waitFor } from './ports.js';
import { TestProxy } from './test-proxy.js';

/**
 * Switchyard end to end on one machine, as the e2e tests and the switch benchmark run it: a
 * throw-away `consul agent -dev`, app containers of the test image on the shared dockerd, the proxy,
 * and `switchyard run` (register + render) as its own process. close() ends exactly what it
 * started — by process handle and container id — also after a failure.
 *
 *   const stack = new SwitchyardStack({ name, proxy: 'haproxy', network: 'host', ... });
 *   await stack.start();                       // Consul
 *   await stack.app('blue', 'b1');
 *   await stack.serve('blue', { blue: 1 });   // daemon, registrations, first config, proxy, /healthz
 *   await stack.cli(['switch', 'green']);      // CONSUL_HTTP_ADDR etc. set
 *   await stack.close();
 */
export type ProxyKind = 'haproxy' | 'nginx';

export interface SwitchyardStackOptions {
  /**
   * Unique on the shared dockerd and short: prefixes the container names, and is the Consul node
   * name and the daemon's --node-id.
   */
  name: string;
  proxy: ProxyKind;
  /**
   * How the proxy reaches the apps, and how they are told apart from other helpers' containers:
   * - `host`: host network, a loopback port of their own each (no docker-proxy in the path), named
   *   `app` by a SERVICE_<port>_NAME label and registered at 127.0.0.1 (`run --ip`);
   * - `bridge`: the default bridge, registered at their own IP (`run --internal`, no docker-proxy
   *   either), with no SERVICE_NAME so the service is named after the image, and this daemon
   *   renders only this service (`--services`).
   */
  network: 'host' | 'bridge';
  /**
   * The label that carries an app's color (`run --color-label`). Default `color`. One of its own
   * keeps other Switchyard daemons on the shared dockerd (default `color`) off these apps.
   */
  colorLabel?: string;
  /** `run --wait` (render quiescence). */
  wait: string;
  logFormat: 'json' | 'text';
  /** More `--template-param key=value`, after the stack's own (bind, ports, pid file, sockets, logs). */
  templateParams?: readonly string[];
  /** More `switchyard run` flags, e.g. `--no-haproxy-runtime-api`. */
  runArgs?: readonly string[];
  /** Environment for the daemon and every cli() command, e.g. SWITCHYARD_KV_PREFIX. */
  env?: Readonly<Record<string, string>>;
  /** Each line the daemon prints, as it comes (its log: the benchmark counts reloads in it). */
  onLine?: (line: string) => void;
  /** How many characters of the daemon's output daemonLog keeps, the latest. Default 20,000. */
  keepLog?: number;
}

export class SwitchyardStack {
  /** The test image's containers; close() removes every one it made. */
  readonly containers = new TestContainers();
  readonly dir = mkdtempSync(path.join(tmpdir(), 'sy-stack-'));
  readonly configPath: string;
  readonly pidFile: string;
  /** The service the apps register as, and the only one the daemon renders in `bridge` mode. */
  readonly service: string;
  private readonly colorLabel: string;
  private readonly image = testImage();
  private agent?: TestConsulAgent;
  private ports?: { main: number; http: number };
  private daemon?: OwnedProcess;
  private proxyProcess?: TestProxy;
  /** Starts in flight: close() lets them settle, so what they start is ended too. */
  private readonly starting = new Set<Promise<void>>();
  private closed = false;

  /** Nothing runs yet: start() starts Consul. The stack can be closed from here on. */
  constructor(private readonly options: SwitchyardStackOptions) {
    const kind = options.proxy;
    this.configPath = path.join(this.dir, kind === 'haproxy' ? 'haproxy.cfg' : 'nginx.conf');
    this.pidFile = path.join(this.dir, `${kind}.pid`);
    this.colorLabel = options.colorLabel ?? 'color';
    this.service = SwitchyardStack.serviceName(options.network);
  }

  /** The service the apps of a `network` register as. */
  static serviceName(network: SwitchyardStackOptions['network']): string {
    if (network === 'host') return 'app';
    // The registrar names a service without SERVICE_NAME after its image (docs/registering.md).
    const name = imageBaseName(testImage());
    if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(name))
      throw new Error(`the image name "${testImage()}" does not give a plain DNS service name; use one that does`);
    return name;
  }

  /** Checks the build and dockerd, picks the ports and starts the Consul agent. */
  async start(): Promise<void> {
    requireBuiltCli();
    requireDocker();
    await this.track(async () => {
      this.ports = { main: await freePort(), http: await freePort() };
      this.agent = await TestConsulAgent.start(this.options.name);
    });
  }

  get consul(): TestConsulAgent {
    if (!this.agent) throw new Error('the stack is not started');
    return this.agent;
  }

  /** The proxy's main port on 127.0.0.1 (the preview and stats ports are off). */
  get mainPort(): number {
    if (!this.ports) throw new Error('the stack is not started');
    return this.ports.main;
  }

  /** The daemon's /metrics, /healthz and /status on 127.0.0.1. */
  get httpPort(): number {
    if (!this.ports) throw new Error('the stack is not started');
    return this.ports.http;
  }

  /** Set for the daemon and every cli() command. */
  get env(): Record<string, string> {
    return {
      CONSUL_HTTP_ADDR: this.consul.address,
      SWITCHYARD_LOG_FORMAT: this.options.logFormat,
      ...this.options.env,
    };
  }

  get mainUrl(): string {
    return `http://127.0.0.1:${this.mainPort}/`;
  }

  get metricsUrl(): string {
    return `http://127.0.0.1:${this.httpPort}/metrics`;
  }

  /** What the daemon printed (the latest `keepLog` characters). */
  get daemonLog(): string {
    return this.daemon?.output ?? '';
  }

  get proxyLog(): string {
    return this.proxyProcess?.logs ?? '';
  }

  /**
   * One app container of `color`; `version` (unique in this stack) names it and is the second word
   * of its answers ("<color> <version> <hostname>"). Returns the container id.
   */
  async app(color: string, version: string): Promise<string> {
    if (this.closed) throw new Error('the stack is closed');
    const common = [
      '--name',
      `${this.options.name}-${version}`,
      ...appArgs({ color, colorLabel: this.colorLabel }),
      '-e',
      `VERSION=${version}`,
    ];
    if (this.options.network === 'bridge') return this.containers.run(common, { image: this.image });
    const port = await freePort();
    return this.containers.run(
      [
        ...common,
        '--network',
        'host',
        '--expose',
        String(port),
        '-e',
        `PORT=${port}`,
        '-l',
        `SERVICE_${port}_NAME=${this.service}`,
        // The image's own port is not this app's on the host network.
        '-l',
        'SERVICE_8080_IGNORE=true',
      ],
      { image: this.image },
    );
  }

  /** Passing instances of the service in Consul, by color. */
  async passing(): Promise<Record<string, number>> {
    const entries = await this.consul.get<Array<{ Service: { Meta: Record<string, string> | null } }>>(
      `/v1/health/service/${this.service}?passing=1`,
    );
    const by: Record<string, number> = {};
    for (const e of entries) {
      const c = e.Service.Meta?.[META_COLOR] ?? '';
      by[c] = (by[c] ?? 0) + 1;
    }
    return by;
  }

  /** Until Consul has at least `want[color]` passing instances of each color. */
  async waitPassing(want: Readonly<Record<string, number>>, timeoutMs = 60_000): Promise<void> {
    const text = Object.entries(want)
      .map(([c, n]) => `${n} passing ${c}`)
      .join(' and ');
    await waitFor(
      `${text} instances of ${this.service} in Consul`,
      async () => {
        this.daemonAlive();
        const p = await this.passing();
        return Object.entries(want).every(([c, n]) => (p[c] ?? 0) >= n);
      },
      timeoutMs,
      200,
    );
  }

  /**
   * Starts `switchyard run`, waits for `want` in Consul and the first config, starts the proxy on
   * it, and waits until the main port answers `live` and the daemon's /healthz is 200 (the reload
   * owed from before the proxy ran is paid after --retry-delay).
   */
  async serve(live: string, want: Readonly<Record<string, number>>): Promise<void> {
    this.startDaemon();
    await this.waitPassing(want);
    await waitFor('the first rendered config', () => existsSync(this.configPath), 30_000, 100);
    const kind = this.options.proxy;
    await this.track(async () => {
      this.proxyProcess = await TestProxy.start(kind, this.dir, this.configPath, this.pidFile, this.mainPort);
    });
    const proxy = this.proxyProcess!;
    await waitFor(
      `${live} served through ${kind} on :${this.mainPort}`,
      async () => {
        if (proxy.exited) throw new Error(`${kind} exited: ${proxy.logs.slice(-2000)}`);
        const body = await (await fetch(this.mainUrl)).text();
        return body.trim().split(/\s+/)[0]?.toLowerCase() === live;
      },
      30_000,
      100,
    );
    await waitFor(
      'the daemon healthy (/healthz 200)',
      async () => {
        this.daemonAlive();
        return (await fetch(`http://127.0.0.1:${this.httpPort}/healthz`)).status === 200;
      },
      30_000,
      200,
    );
  }

  /** `switchyard <args>` against this stack's Consul, to completion. */
  cli(args: string[], timeoutMs = 60_000): Promise<CliResult> {
    return switchyard(args, this.env, timeoutMs);
  }

  /**
   * Ends the daemon first (so it does not react to what goes away next), then the proxy, the
   * containers, Consul and the temp folder. Every step runs even when one fails; the first failure
   * is thrown at the end. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled(this.starting);
    const steps: Array<() => Promise<void>> = [
      async () => this.daemon?.stop(),
      async () => this.proxyProcess?.stop(),
      () => this.containers.removeAll(),
      async () => this.agent?.stop(),
      async () => rmSync(this.dir, { recursive: true, force: true }),
    ];
    let first: unknown;
    for (const step of steps) {
      try {
        await step();
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== undefined) throw new Error(`closing the stack: ${errorMessage(first)}`, { cause: first });
  }

  /** Runs a start step so that close() waits for it (each is bounded by its own wait). */
  private async track(step: () => Promise<void>): Promise<void> {
    if (this.closed) throw new Error('the stack is closed');
    const p = step();
    this.starting.add(p);
    try {
      await p;
    } finally {
      this.starting.delete(p);
    }
  }

  private startDaemon(): void {
    if (this.closed) throw new Error('the stack is closed');
    if (this.daemon) return;
    const o = this.options;
    const params = ['bind=127.0.0.1', 'statsPort=0', 'previewPort=0', `mainPort=${this.mainPort}`];
    if (o.proxy === 'haproxy') params.push('log=none', `adminSocket=${path.join(this.dir, 'admin.sock')}`);
    else
      params.push(
        `pidFile=${this.pidFile}`,
        `tempDir=${this.dir}`,
        `errorLog=${path.join(this.dir, 'error.log')}`,
        'accessLog=off',
      );
    params.push(...(o.templateParams ?? []));
    const isolation = o.network === 'host' ? ['--ip', '127.0.0.1'] : ['--internal', '--services', this.service];
    const args = [
      CLI,
      'run',
      '--node-id',
      o.name,
      '--color-label',
      this.colorLabel,
      ...isolation,
      '--proxy',
      o.proxy,
      '--proxy-binary',
      o.proxy === 'haproxy' ? haproxyBinary() : nginxBinary(),
      '--config',
      this.configPath,
      '--proxy-pid-file',
      this.pidFile,
      ...params.flatMap((p) => ['--template-param', p]),
      '--retry-delay',
      '1s',
      '--wait',
      o.wait,
      '--http-listen',
      `127.0.0.1:${this.httpPort}`,
      '--log-format',
      o.logFormat,
      ...(o.runArgs ?? []),
    ];
    this.daemon = new OwnedProcess(
      'switchyard run',
      spawn(process.execPath, args, { env: { ...process.env, ...this.env }, stdio: ['ignore', 'pipe', 'pipe'] }),
      o.keepLog ?? 20_000,
      o.onLine,
    );
  }

  private daemonAlive(): void {
    if (this.daemon?.exited) throw new Error(`switchyard run exited: ${this.daemon.output.slice(-2000)}`);
  }
}
