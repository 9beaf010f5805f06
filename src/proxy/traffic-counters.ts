import { open } from 'node:fs/promises';
import { bucketOf, LATENCY_BUCKETS_MS } from '../domain/traffic.js';
import { haproxySocketCommand } from './haproxy-admin-socket.js';

/**
 * Per-server request counters read at the proxy, for the rollout gate (docs/rollouts.md):
 * - HAProxy: `show stat` on the admin socket — per server `req_tot`, `hrsp_5xx` and `rtime`, which
 *   is HAProxy's average response time over the server's last 1024 requests (not a percentile).
 * - nginx: open-source nginx exposes no per-upstream counters (stub_status is global), so the
 *   template writes a small JSON access log (`$upstream_addr`, `$status`, `$request_time`) that the
 *   daemon reads from where it left off; this also gives real latency percentiles.
 * Counters are cumulative; the key is `<backend>/<server>` (HAProxy) or `<address:port>` (nginx).
 */
export interface ServerCounters {
  requests: number;
  errors: number;
  /** HAProxy: the rolling average response time in ms. */
  avgMs?: number;
  /** nginx: counts per LATENCY_BUCKETS_MS bucket. */
  histogram?: number[];
}

export interface TrafficCounterSource {
  read(): Promise<Map<string, ServerCounters>>;
}

/** Parses `show stat` CSV into `<backend>/<server>` → counters (server rows only). */
export function parseShowStat(csv: string): Map<string, ServerCounters> {
  const lines = csv.split('\n').filter((l) => l.trim() !== '');
  const header = lines[0]?.replace(/^#\s*/, '').split(',') ?? [];
  const col = (name: string) => header.indexOf(name);
  const [px, sv, req, e5, rt] = ['pxname', 'svname', 'req_tot', 'hrsp_5xx', 'rtime'].map(col);
  const out = new Map<string, ServerCounters>();
  if ([px, sv, req, e5, rt].some((i) => i === undefined || i < 0)) return out;
  for (const line of lines.slice(1)) {
    const f = line.split(',');
    const server = f[sv!];
    if (!server || server === 'FRONTEND' || server === 'BACKEND') continue;
    out.set(`${f[px!]}/${server}`, {
      requests: Number(f[req!]) || 0,
      errors: Number(f[e5!]) || 0,
      avgMs: Number(f[rt!]) || 0,
    });
  }
  return out;
}

export class HaproxyStatsSource implements TrafficCounterSource {
  constructor(private readonly socketPath: string) {}
  async read(): Promise<Map<string, ServerCounters>> {
    return parseShowStat(await haproxySocketCommand(this.socketPath, 'show stat', 2000));
  }
}

/** One line of the template's traffic log: `{"u":"$upstream_addr","s":"$status","t":"$request_time"}`. */
export function parseTrafficLine(line: string): { upstreams: string[]; status: number; ms: number } | undefined {
  let j: unknown;
  try {
    j = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!j || typeof j !== 'object') return undefined;
  const { u, s, t } = j as Record<string, unknown>;
  if (typeof u !== 'string' || u === '' || u === '-') return undefined;
  const status = Number(s);
  const seconds = Number(t);
  if (!Number.isInteger(status) || !Number.isFinite(seconds)) return undefined;
  // With retries nginx lists every upstream tried ("a, b" or "a : b"); the last one answered.
  const upstreams = u.split(/\s*[,:]\s+/).filter(Boolean);
  return { upstreams, status, ms: seconds * 1000 };
}

/** Reads the nginx traffic log from where it left off; a shorter file (rotated, truncated) is read from the start. */
export class NginxTrafficLogSource implements TrafficCounterSource {
  private offset = 0;
  private rest = '';
  private readonly counters = new Map<string, ServerCounters>();

  constructor(private readonly path: string) {}

  async read(): Promise<Map<string, ServerCounters>> {
    const fh = await open(this.path, 'r');
    try {
      const { size } = await fh.stat();
      if (size < this.offset) {
        this.offset = 0;
        this.rest = '';
      }
      while (this.offset < size) {
        const len = Math.min(size - this.offset, 1 << 20);
        const buf = Buffer.alloc(len);
        const { bytesRead } = await fh.read(buf, 0, len, this.offset);
        if (bytesRead === 0) break;
        this.offset += bytesRead;
        const text = this.rest + buf.subarray(0, bytesRead).toString('utf8');
        const lines = text.split('\n');
        this.rest = lines.pop() ?? '';
        for (const line of lines) this.count(line);
      }
    } finally {
      await fh.close();
    }
    return new Map([...this.counters].map(([k, v]) => [k, { ...v, histogram: [...v.histogram!] }]));
  }

  private count(line: string): void {
    const r = parseTrafficLine(line);
    if (!r) return;
    const addr = r.upstreams[r.upstreams.length - 1]!;
    let c = this.counters.get(addr);
    if (!c) {
      c = { requests: 0, errors: 0, histogram: new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0) };
      this.counters.set(addr, c);
    }
    c.requests += 1;
    if (r.status >= 500) c.errors += 1;
    c.histogram![bucketOf(r.ms)]! += 1;
  }
}
