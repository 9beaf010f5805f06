import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stopChild } from './child.js';
import { consulBinary } from './components.js';
import { freePort, waitFor } from './ports.js';

/**
 * A throw-away `consul agent -dev` on loopback ports of its own. Its state lives in memory, so
 * restart() is "the agent restarted and lost every registration", as a real agent without a data
 * volume does.
 */
export class TestConsulAgent {
  private child?: ChildProcess;
  private output = '';
  private dataDir = mkdtempSync(path.join(tmpdir(), 'sy-consul-'));

  private constructor(
    readonly httpPort: number,
    private readonly serfLanPort: number,
    private readonly serverPort: number,
    readonly nodeName: string,
  ) {}

  static async start(
    nodeName = `sy-test-${process.pid}-${Math.random().toString(36).slice(2, 7)}`,
  ): Promise<TestConsulAgent> {
    const agent = new TestConsulAgent(await freePort(), await freePort(), await freePort(), nodeName);
    try {
      await agent.startProcess();
    } catch (err) {
      // Not left running when it never became leader.
      await agent.stop();
      throw err;
    }
    return agent;
  }

  get address(): string {
    return `127.0.0.1:${this.httpPort}`;
  }

  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  get logs(): string {
    return this.output;
  }

  /** The agent process (a bench reads its RSS); undefined while it is not running. */
  get pid(): number | undefined {
    return this.child?.exitCode === null ? this.child.pid : undefined;
  }

  private async startProcess(): Promise<void> {
    const hcl = `ports { dns = -1, grpc = -1, grpc_tls = -1, serf_wan = -1, serf_lan = ${this.serfLanPort}, server = ${this.serverPort} }`;
    const child = spawn(
      consulBinary(),
      [
        'agent',
        '-dev',
        '-bind=127.0.0.1',
        '-client=127.0.0.1',
        `-http-port=${this.httpPort}`,
        `-node=${this.nodeName}`,
        `-data-dir=${this.dataDir}`,
        `-hcl=${hcl}`,
        '-log-level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    const collect = (b: Buffer) => {
      this.output = (this.output + b.toString()).slice(-20_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    await waitFor(
      `consul agent on ${this.address} to elect itself leader`,
      async () => {
        if (child.exitCode !== null)
          throw new Error(`consul exited with ${child.exitCode}: ${this.output.slice(-2000)}`);
        const res = await fetch(`${this.url}/v1/status/leader`);
        const leader = (await res.json()) as string;
        if (!leader) return false;
        // The catalog answers only once the node has registered itself.
        const nodes = await (await fetch(`${this.url}/v1/catalog/nodes`)).json();
        return Array.isArray(nodes) && nodes.length > 0;
      },
      30_000,
      100,
    );
  }

  /** Sends a signal to the agent process: SIGSTOP makes it hang (Consul unreachable without iptables), SIGCONT resumes it. */
  signal(signal: NodeJS.Signals): void {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null)
      throw new Error(`the consul agent on ${this.address} is not running`);
    this.child.kill(signal);
  }

  /** Stops the agent process (SIGTERM, then SIGKILL after 5 s). */
  async stopProcess(): Promise<void> {
    if (!this.child) return;
    // A stopped (SIGSTOPped) agent would hold its SIGTERM until the SIGKILL.
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGCONT');
    await stopChild(this.child, 5_000);
  }

  /** Restarts on the same ports with every registration and KV entry lost. */
  async restart(): Promise<void> {
    await this.stopProcess();
    rmSync(this.dataDir, { recursive: true, force: true });
    this.dataDir = mkdtempSync(path.join(tmpdir(), 'sy-consul-'));
    await this.startProcess();
  }

  async stop(): Promise<void> {
    await this.stopProcess();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** GET a Consul API path and parse its JSON. */
  async get<T = unknown>(apiPath: string): Promise<T> {
    const res = await fetch(`${this.url}${apiPath}`);
    if (!res.ok) throw new Error(`GET ${apiPath}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  async put(apiPath: string, body?: unknown): Promise<void> {
    const res = await fetch(`${this.url}${apiPath}`, {
      method: 'PUT',
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`PUT ${apiPath}: HTTP ${res.status} ${await res.text()}`);
  }
}
