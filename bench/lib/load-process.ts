import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadSummary, LoadTick } from './load.js';

/**
 * Runs bench/lib/load as a child process (its own event loop and CPU share) and follows its
 * progress. Tests and benchmarks use this; the built script must exist (npm run build).
 */
export interface LoadProcessOptions {
  url: string;
  durationMs: number;
  keepAlive?: number;
  fresh?: number;
  rate?: number;
  bucketMs?: number;
  /** A request with no answer within this counts as failed (load.ts default: 5 s). */
  timeoutMs?: number;
}

/** dist/bench/lib/load.js, whether this module runs from the sources (jest) or from dist. */
export function loadScript(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, 'load.js'), path.resolve(here, '../../dist/bench/lib/load.js')];
  const found = candidates.find((p) => p.endsWith('.js') && existsSync(p) && p.includes(`${path.sep}dist${path.sep}`));
  if (!found) throw new Error(`dist/bench/lib/load.js is missing; run "npm run build" first`);
  return found;
}

export class LoadProcess {
  readonly ticks: LoadTick[] = [];
  private readonly child: ChildProcess;
  private readonly summary: Promise<LoadSummary>;
  private stderr = '';
  private readonly listeners = new Set<(t: LoadTick) => void>();

  constructor(options: LoadProcessOptions) {
    const args = [
      loadScript(),
      '--url',
      options.url,
      '--duration',
      `${options.durationMs}ms`,
      '--keepalive',
      String(options.keepAlive ?? 16),
      '--fresh',
      String(options.fresh ?? 4),
      '--rate',
      String(options.rate ?? 1500),
      '--bucket',
      `${options.bucketMs ?? 100}ms`,
      '--progress',
      ...(options.timeoutMs !== undefined ? ['--timeout', `${options.timeoutMs}ms`] : []),
    ];
    this.child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let buffered = '';
    let summary: LoadSummary | undefined;
    this.child.stdout!.on('data', (b: Buffer) => {
      buffered += b.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (!line.trim()) continue;
        const msg = JSON.parse(line) as LoadTick | LoadSummary;
        if (msg.type === 'tick') {
          this.ticks.push(msg);
          for (const l of this.listeners) l(msg);
        } else summary = msg;
      }
    });
    this.child.stderr!.on('data', (b: Buffer) => (this.stderr = (this.stderr + b.toString()).slice(-5_000)));
    this.summary = new Promise((resolve, reject) => {
      this.child.on('error', reject);
      this.child.on('close', (code) => {
        if (summary) resolve(summary);
        else reject(new Error(`load process exited with ${code} and no summary: ${this.stderr}`));
      });
    });
    // Unhandled until someone asks for it; avoid an unhandled rejection if nobody does.
    this.summary.catch(() => undefined);
  }

  onTick(listener: (t: LoadTick) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once `buckets` consecutive non-empty buckets answered only `color` (bounded by timeoutMs). */
  waitForOnly(color: string, buckets = 3, timeoutMs = 30_000): Promise<number> {
    return new Promise((resolve, reject) => {
      let run = 0;
      const timer = setTimeout(() => {
        off();
        reject(
          new Error(
            `responses did not turn to only "${color}" within ${timeoutMs} ms; last: ${JSON.stringify(this.ticks.slice(-3))}`,
          ),
        );
      }, timeoutMs);
      const off = this.onTick((t) => {
        const colors = Object.keys(t.colors);
        if (t.ok > 0 && colors.length === 1 && colors[0] === color) run += 1;
        else if (t.ok > 0) run = 0;
        if (run >= buckets) {
          clearTimeout(timer);
          off();
          resolve(t.t);
        }
      });
    });
  }

  /** Stops the load (SIGTERM) and returns its summary. */
  async stop(): Promise<LoadSummary> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    try {
      return await this.summary;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends the process without waiting for its summary (cleanup after a failure). */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
