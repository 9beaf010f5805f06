/**
 * The pieces a benchmark needs to run Switchyard end to end on one machine — a throw-away
 * `consul agent -dev`, app containers, the proxy, `switchyard run` — each owned by a Stack that
 * ends exactly what it started (by process handle and container id), also after a failure.
 * The same approach as test/integration/e2e; the small helpers come from test/helpers (built with bench).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, waitFor as pollUntil } from '../../test/helpers/ports.js';

const execFileAsync = promisify(execFile);

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export { freePort };

/** The tests' poller, with a longer default: benchmarks load the machine on purpose. */
export function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<T> {
  return pollUntil(what, check, timeoutMs, intervalMs);
}

/** A binary from $envVar, else PATH, else /usr/sbin and friends. */
export function findBinary(name: string, envVar?: string): string {
  const fromEnv = envVar ? process.env[envVar] : undefined;
  if (fromEnv) return fromEnv;
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/local/sbin', '/sbin'])) {
    if (dir && existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  throw new Error(`${name} is not installed${envVar ? ` and ${envVar} is not set` : ''}; run scripts/provision.sh`);
}

/** dist/src/cli/main.js next to this module's build (dist/bench/lib → dist/src/cli). */
export function builtCli(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const cli = path.resolve(here, '../../src/cli/main.js');
  if (!cli.includes(`${path.sep}dist${path.sep}`) || !existsSync(cli))
    throw new Error('dist/src/cli/main.js is missing; run "npm run build" and run the bench from dist/');
  return cli;
}

/** A child process with its output kept (the tail, or everything when asked) for error messages. */
export class Owned {
  output = '';
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    private readonly keep = 20_000,
    onLine?: (line: string) => void,
  ) {
    let partial = '';
    const collect = (b: Buffer) => {
      const s = b.toString();
      this.output = (this.output + s).slice(-this.keep);
      if (!onLine) return;
      partial += s;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        onLine(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
      }
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(t);
  }
}

/**
 * Everything one benchmark scenario started. close() ends the processes (newest first), removes the
 * containers it created (by id) and its temp folder. Idempotent.
 */
export class Stack {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'sy-bench-'));
  private readonly processes: Owned[] = [];
  private readonly containers = new Set<string>();
  private closed = false;

  constructor(readonly label: string) {}

  spawn(name: string, command: string, args: string[], env?: NodeJS.ProcessEnv, onLine?: (l: string) => void): Owned {
    if (this.closed) throw new Error('stack is closed');
    const child = spawn(command, args, { env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.on('error', () => undefined);
    const owned = new Owned(name, child, 20_000, onLine);
    this.processes.push(owned);
    return owned;
  }

  /** A throw-away Consul agent on loopback ports of its own; returns its host:port. */
  async consul(): Promise<string> {
    const [httpPort, serf, server] = [await freePort(), await freePort(), await freePort()];
    const hcl = `ports { dns = -1, grpc = -1, grpc_tls = -1, serf_wan = -1, serf_lan = ${serf}, server = ${server} }`;
    const agent = this.spawn('consul', findBinary('consul', 'SWITCHYARD_CONSUL_BIN'), [
      'agent',
      '-dev',
      '-bind=127.0.0.1',
      '-client=127.0.0.1',
      `-http-port=${httpPort}`,
      `-node=${this.label}`,
      `-data-dir=${path.join(this.dir, 'consul')}`,
      `-hcl=${hcl}`,
      '-log-level=warn',
    ]);
    const url = `http://127.0.0.1:${httpPort}`;
    await waitFor('the Consul agent to elect itself and list its node', async () => {
      if (agent.exited) throw new Error(`consul exited: ${agent.output.slice(-1000)}`);
      if (!(await (await fetch(`${url}/v1/status/leader`)).json())) return false;
      const nodes = (await (await fetch(`${url}/v1/catalog/nodes`)).json()) as unknown[];
      return nodes.length > 0;
    });
    return `127.0.0.1:${httpPort}`;
  }

  /** `docker run -d <args> <image>`; the id is removed by close(). */
  async run(args: string[], image: string): Promise<string> {
    if (this.closed) throw new Error('stack is closed');
    const { stdout } = await execFileAsync(
      'docker',
      ['run', '-d', '--label', `switchyard.bench=${this.label}`, ...args, image],
      {
        timeout: 120_000,
      },
    );
    const id = stdout.trim();
    this.containers.add(id);
    return id;
  }

  async removeContainers(ids: readonly string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += 50) {
      const chunk = ids.slice(i, i + 50);
      await execFileAsync('docker', ['rm', '-f', '-v', ...chunk], { timeout: 180_000 }).catch(() => undefined);
      for (const id of chunk) this.containers.delete(id);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // The daemon first (newest), so it does not react to the containers going away; Consul last.
    for (const p of [...this.processes].reverse()) await p.stop().catch(() => undefined);
    await this.removeContainers([...this.containers]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Prometheus text → `name{labels}` → value (labels as printed). */
export async function scrapeMetrics(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(url)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

/** Sum of every series of `name` whose labels contain all of `has` (e.g. 'outcome="ok"'). */
export function metricSum(m: Map<string, number>, name: string, ...has: string[]): number {
  let sum = 0;
  for (const [k, v] of m) {
    const base = k.includes('{') ? k.slice(0, k.indexOf('{')) : k;
    if (base === name && has.every((h) => k.includes(h))) sum += v;
  }
  return sum;
}

export interface ProbeAnswer {
  /** When the request was sent (ms since the epoch). */
  at: number;
  /** The test app's first word (its color), lower-cased; undefined on a failure. */
  color?: string;
  /** The rest of the body ("<version> <hostname>"). */
  rest?: string;
  failure?: string;
}

/** One GET through the proxy; never rejects. */
export function probe(port: number, agent: http.Agent | false, timeoutMs = 2_000): Promise<ProbeAnswer> {
  const at = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (a: Omit<ProbeAnswer, 'at'>) => {
      if (settled) return;
      settled = true;
      resolve({ at, ...a });
    };
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('error', (e: NodeJS.ErrnoException) => done({ failure: `error:${e.code ?? e.message}` }));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 299) return done({ failure: `status:${status}` });
        const words = body.trim().split(/\s+/);
        done({ color: (words[0] ?? '').toLowerCase(), rest: words.slice(1).join(' ') });
      });
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => done({ failure: `error:${e.code ?? e.message}` }));
  });
}
