/**
 * What a benchmark builds on. The whole Switchyard stack (Consul agent, app containers, proxy,
 * `switchyard run`) is test/helpers/switchyard-stack.ts, shared with the e2e tests; `Stack` below
 * is the smaller piece for a benchmark that starts its own mix: processes and a Consul agent it
 * ends by handle. Plus what a benchmark reads a running stack with: a poller, the daemon's metrics,
 * one GET through the proxy. (test/helpers is built with bench.)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { OwnedProcess } from '../../test/helpers/child.js';
import { CLI, requireBuiltCli } from '../../test/helpers/cli.js';
import { requireBinary } from '../../test/helpers/components.js';
import { TestConsulAgent } from '../../test/helpers/consul-agent.js';
import { freePort, waitFor as pollUntil } from '../../test/helpers/ports.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export { freePort, OwnedProcess as Owned };

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
export const findBinary = requireBinary;

/** dist/src/cli/main.js, the CLI built next to this benchmark. */
export function builtCli(): string {
  requireBuiltCli();
  return CLI;
}

/**
 * Everything one benchmark scenario started. close() ends the processes (newest first), then the
 * Consul agent, and removes its temp folder. Idempotent.
 */
export class Stack {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'sy-bench-'));
  private readonly processes: OwnedProcess[] = [];
  private readonly agents: TestConsulAgent[] = [];
  private closed = false;

  constructor(readonly label: string) {}

  spawn(
    name: string,
    command: string,
    args: string[],
    env?: NodeJS.ProcessEnv,
    onLine?: (l: string) => void,
  ): OwnedProcess {
    if (this.closed) throw new Error('stack is closed');
    const child = spawn(command, args, { env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const owned = new OwnedProcess(name, child, 20_000, onLine);
    this.processes.push(owned);
    return owned;
  }

  /** A throw-away Consul agent on loopback ports of its own; returns its host:port. */
  async consul(): Promise<string> {
    if (this.closed) throw new Error('stack is closed');
    const agent = await TestConsulAgent.start(this.label);
    this.agents.push(agent);
    return agent.address;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of [...this.processes].reverse()) await p.stop().catch(() => undefined);
    for (const a of this.agents) await a.stop().catch(() => undefined);
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

/**
 * Waits until the daemon has been quiet for `quietMs` (no render, reload or Runtime API update, and
 * `extra()` unchanged), at most `boundMs`; resolves whether it went quiet.
 */
export async function waitQuiet(
  metricsUrl: string,
  extra: () => number = () => 0,
  quietMs = 3_000,
  boundMs = 90_000,
): Promise<boolean> {
  let last = '';
  let quietSince = Date.now();
  const end = Date.now() + boundMs;
  while (Date.now() - quietSince < quietMs && Date.now() < end) {
    const m = await scrapeMetrics(metricsUrl);
    const sig = ['switchyard_renders_total', 'switchyard_reloads_total', 'switchyard_runtime_updates_total']
      .map((n) => metricSum(m, n))
      .concat(extra())
      .join(',');
    if (sig !== last) {
      last = sig;
      quietSince = Date.now();
    }
    await sleep(250);
  }
  return Date.now() - quietSince >= quietMs;
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
