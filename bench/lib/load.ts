/**
 * An HTTP load generator meant to run as its own process, so the load it puts on a proxy does not
 * share an event loop with the code under test. Two kinds of client run side by side:
 *   - keep-alive: each worker holds one persistent connection (the case that races with reloads);
 *   - fresh: each request opens a new connection and asks for `Connection: close`.
 * Every response counts: a socket error, a timeout or a non-2xx status is a failure. The first word
 * of each body (the test app answers "<COLOR> <VERSION> <hostname>") is tallied over time.
 *
 *   node dist/bench/lib/load.js --url http://127.0.0.1:8080/ --duration 60s --rate 1500 --progress
 *
 * Stops at --duration or on SIGTERM/SIGINT, waits for requests in flight (each bounded by
 * --timeout), then prints one JSON summary line ({"type":"summary",…}) on stdout. With --progress it
 * also prints a {"type":"tick",…} line per --bucket.
 */
import http from 'node:http';
import { pathToFileURL } from 'node:url';

export interface LoadOptions {
  url: string;
  durationMs: number;
  keepAliveClients: number;
  freshClients: number;
  /** Target requests per second across every client; 0 runs flat out. */
  rate: number;
  timeoutMs: number;
  bucketMs: number;
  onTick?: (tick: LoadTick) => void;
}

export type ClientKind = 'keepalive' | 'fresh';

export interface LoadTick {
  type: 'tick';
  /** Start of the bucket, ms since the epoch. */
  t: number;
  ok: number;
  failed: number;
  colors: Record<string, number>;
}

export interface FailureSample {
  at: number;
  client: ClientKind;
  kind: string;
}

export interface LoadSummary {
  type: 'summary';
  url: string;
  startedAt: number;
  endedAt: number;
  requests: number;
  ok: number;
  failed: number;
  /** Achieved requests per second. */
  rate: number;
  failures: Record<string, number>;
  /** The first failures, with when and which client kind, to line them up with logs. */
  failureSamples: FailureSample[];
  byClient: Record<ClientKind, { requests: number; failed: number }>;
  colors: Record<string, number>;
  firstSeen: Record<string, number>;
  lastSeen: Record<string, number>;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  timeline: LoadTick[];
}

const MAX_SAMPLES = 200;

/** Latency histogram in 0.1 ms steps up to 10 s: constant memory however long the run. */
class Latencies {
  private readonly buckets = new Uint32Array(100_001);
  private n = 0;
  private maxMs = 0;
  add(ms: number): void {
    this.buckets[Math.min(100_000, Math.round(ms * 10))]! += 1;
    this.n += 1;
    if (ms > this.maxMs) this.maxMs = ms;
  }
  percentile(p: number): number {
    if (this.n === 0) return 0;
    const rank = Math.ceil((p / 100) * this.n);
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i]!;
      if (seen >= rank) return i / 10;
    }
    return this.maxMs;
  }
  get max(): number {
    return Math.round(this.maxMs * 10) / 10;
  }
}

export async function runLoad(options: LoadOptions, signal: AbortSignal): Promise<LoadSummary> {
  const url = new URL(options.url);
  const startedAt = Date.now();
  const deadline = startedAt + options.durationMs;
  const stats = {
    requests: 0,
    ok: 0,
    failed: 0,
    failures: {} as Record<string, number>,
    failureSamples: [] as FailureSample[],
    byClient: { keepalive: { requests: 0, failed: 0 }, fresh: { requests: 0, failed: 0 } },
    colors: {} as Record<string, number>,
    firstSeen: {} as Record<string, number>,
    lastSeen: {} as Record<string, number>,
  };
  const latencies = new Latencies();
  const ticks = new Map<number, LoadTick>();
  const tickAt = (now: number): LoadTick => {
    const t = startedAt + Math.floor((now - startedAt) / options.bucketMs) * options.bucketMs;
    let tick = ticks.get(t);
    if (!tick) {
      tick = { type: 'tick', t, ok: 0, failed: 0, colors: {} };
      ticks.set(t, tick);
    }
    return tick;
  };
  let emitted = startedAt;
  const flushTicks = (upTo: number) => {
    if (!options.onTick) return;
    for (; emitted + options.bucketMs <= upTo; emitted += options.bucketMs)
      options.onTick(ticks.get(emitted) ?? { type: 'tick', t: emitted, ok: 0, failed: 0, colors: {} });
  };
  const ticker = setInterval(() => flushTicks(Date.now()), options.bucketMs);

  const record = (client: ClientKind, started: number, outcome: { color?: string; failure?: string }) => {
    const now = Date.now();
    stats.requests += 1;
    stats.byClient[client].requests += 1;
    const tick = tickAt(started);
    if (outcome.failure) {
      stats.failed += 1;
      stats.byClient[client].failed += 1;
      stats.failures[outcome.failure] = (stats.failures[outcome.failure] ?? 0) + 1;
      if (stats.failureSamples.length < MAX_SAMPLES)
        stats.failureSamples.push({ at: started, client, kind: outcome.failure });
      tick.failed += 1;
      return;
    }
    stats.ok += 1;
    latencies.add(now - started);
    const color = outcome.color ?? '(empty)';
    stats.colors[color] = (stats.colors[color] ?? 0) + 1;
    tick.colors[color] = (tick.colors[color] ?? 0) + 1;
    tick.ok += 1;
    stats.firstSeen[color] ??= started;
    stats.lastSeen[color] = now;
  };

  const keepAliveAgent = new http.Agent({ keepAlive: true, maxSockets: Math.max(1, options.keepAliveClients) });
  const oneRequest = (client: ClientKind): Promise<{ color?: string; failure?: string }> =>
    new Promise((resolve) => {
      let settled = false;
      const done = (r: { color?: string; failure?: string }) => {
        if (!settled) {
          settled = true;
          resolve(r);
        }
      };
      const req = http.request(
        url,
        {
          method: 'GET',
          agent: client === 'keepalive' ? keepAliveAgent : false,
          headers: client === 'fresh' ? { connection: 'close' } : {},
          timeout: options.timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          // The status line had come: the connection was cut while the response was under way (a
          // server killed mid-answer), which no proxy can retry, unlike a failure before it.
          res.on('error', (err: NodeJS.ErrnoException) => done({ failure: `cut:${err.code ?? err.message}` }));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status < 200 || status > 299) return done({ failure: `status:${status}` });
            const word = Buffer.concat(chunks).toString('utf8').trim().split(/\s+/)[0] ?? '';
            done({ color: word.toLowerCase() });
          });
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
      req.on('error', (err: NodeJS.ErrnoException) => done({ failure: `error:${err.code ?? err.message}` }));
      req.end();
    });

  const workers = options.keepAliveClients + options.freshClients;
  // Each worker paces itself so the sum is the target rate; a slow answer just delays that worker.
  const intervalMs = options.rate > 0 ? (workers * 1000) / options.rate : 0;
  const stopped = () => signal.aborted || Date.now() >= deadline;
  const worker = async (client: ClientKind, index: number) => {
    // Spread the workers' first requests over one interval instead of a thundering start.
    let next = Date.now() + (intervalMs * index) / Math.max(1, workers);
    while (!stopped()) {
      const wait = next - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (stopped()) break;
      const started = Date.now();
      record(client, started, await oneRequest(client));
      next = Math.max(next + intervalMs, Date.now() - intervalMs);
    }
  };
  const all: Promise<void>[] = [];
  for (let i = 0; i < options.keepAliveClients; i++) all.push(worker('keepalive', i));
  for (let i = 0; i < options.freshClients; i++) all.push(worker('fresh', options.keepAliveClients + i));
  await Promise.all(all);
  clearInterval(ticker);
  keepAliveAgent.destroy();
  const endedAt = Date.now();
  flushTicks(endedAt + options.bucketMs);

  return {
    type: 'summary',
    url: options.url,
    startedAt,
    endedAt,
    ...stats,
    rate: Math.round((stats.requests * 1000) / Math.max(1, endedAt - startedAt)),
    latencyMs: {
      p50: latencies.percentile(50),
      p90: latencies.percentile(90),
      p99: latencies.percentile(99),
      max: latencies.max,
    },
    timeline: [...ticks.values()].sort((a, b) => a.t - b.t),
  };
}

function parseArgs(argv: string[]): LoadOptions & { progress: boolean } {
  const o = {
    url: '',
    durationMs: 60_000,
    keepAliveClients: 16,
    freshClients: 4,
    rate: 1500,
    timeoutMs: 5_000,
    bucketMs: 100,
    progress: false,
  };
  const dur = (v: string): number => {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(v);
    if (!m) throw new Error(`expected a duration such as 500ms, 30s or 2m, got "${v}"`);
    return Math.round(Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2] as 'ms' | 's' | 'm']);
  };
  const int = (name: string, v: string | undefined): number => {
    if (v === undefined || !/^\d+$/.test(v)) throw new Error(`${name}: expected a whole number, got "${v}"`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = argv[i + 1];
    const take = () => {
      i += 1;
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--url') o.url = take();
    else if (a === '--duration') o.durationMs = dur(take());
    else if (a === '--keepalive') o.keepAliveClients = int(a, take());
    else if (a === '--fresh') o.freshClients = int(a, take());
    else if (a === '--rate') o.rate = int(a, take());
    else if (a === '--timeout') o.timeoutMs = dur(take());
    else if (a === '--bucket') o.bucketMs = dur(take());
    else if (a === '--progress') o.progress = true;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!/^http:\/\//.test(o.url)) throw new Error(`--url must be an http:// URL, got "${o.url}"`);
  // Bounded whatever the caller asks: a forgotten load process must end on its own.
  if (o.durationMs < 100 || o.durationMs > 30 * 60_000) throw new Error('--duration must be from 100ms to 30m');
  if (o.keepAliveClients + o.freshClients < 1) throw new Error('need at least one client');
  if (o.bucketMs < 10) throw new Error('--bucket must be at least 10ms');
  return o;
}

async function main(): Promise<number> {
  let options: ReturnType<typeof parseArgs>;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`load: ${(err as Error).message}\n`);
    return 2;
  }
  const ac = new AbortController();
  process.once('SIGTERM', () => ac.abort());
  process.once('SIGINT', () => ac.abort());
  const summary = await runLoad(
    {
      ...options,
      ...(options.progress ? { onTick: (t: LoadTick) => process.stdout.write(`${JSON.stringify(t)}\n`) } : {}),
    },
    ac.signal,
  );
  await new Promise<void>((r) => process.stdout.write(`${JSON.stringify(summary)}\n`, () => r()));
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = await main();
