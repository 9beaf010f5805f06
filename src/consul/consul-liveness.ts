import { errorMessage } from '../errors.js';
import { once, type Lifecycle } from '../lifecycle.js';
import { systemClock, type Clock, type TimerHandle } from '../time/clock.js';

/**
 * Whether Consul answers at all, for /healthz. The watches alone cannot tell: a blocking query to
 * an agent that hangs (SIGSTOP, a stalled host, a dropped network path) simply waits for minutes,
 * exactly as it does when nothing changes. So one short, non-blocking request runs every
 * `intervalMs`, bounded by `timeoutMs`; `failuresBeforeDown` misses in a row make Consul
 * "unreachable" (one slow answer does not flap /healthz), the first answer makes it reachable again.
 */
export interface ConsulLivenessOptions {
  /** One cheap, non-blocking Consul request; must stop when the signal aborts. */
  probe(signal: AbortSignal): Promise<unknown>;
  intervalMs?: number;
  timeoutMs?: number;
  failuresBeforeDown?: number;
  clock?: Clock;
}

export const DEFAULT_LIVENESS_INTERVAL_MS = 5_000;
export const DEFAULT_LIVENESS_TIMEOUT_MS = 3_000;
export const DEFAULT_LIVENESS_FAILURES_BEFORE_DOWN = 2;

export interface ConsulReachability {
  /** undefined until the first probe settled. */
  reachable: boolean | undefined;
  /** Clock ms since when Consul has been unreachable. */
  downSince?: number;
  /** Why the last probe failed. */
  lastError?: string;
}

export class ConsulLiveness implements Lifecycle {
  private readonly clock: Clock;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly failuresBeforeDown: number;
  private reachable: boolean | undefined;
  private failures = 0;
  private firstFailureAt: number | undefined;
  private lastError: string | undefined;
  private timer: TimerHandle | undefined;
  private inflight: AbortController | undefined;
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: ConsulLivenessOptions) {
    this.clock = options.clock ?? systemClock;
    this.intervalMs = options.intervalMs ?? DEFAULT_LIVENESS_INTERVAL_MS;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_LIVENESS_TIMEOUT_MS;
    this.failuresBeforeDown = Math.max(1, options.failuresBeforeDown ?? DEFAULT_LIVENESS_FAILURES_BEFORE_DOWN);
  }

  state(): ConsulReachability {
    return {
      reachable: this.reachable,
      ...(this.reachable === false && this.firstFailureAt !== undefined ? { downSince: this.firstFailureAt } : {}),
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
    };
  }

  start(): Promise<void> {
    if (!this.closed && !this.running && !this.timer) this.tick();
    return Promise.resolve();
  }

  readonly close = once(async (): Promise<void> => {
    this.closed = true;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.inflight?.abort();
    await this.running;
  });

  /** Runs one probe now (tests drive it by hand with a fake clock). */
  probeOnce(): Promise<void> {
    this.running ??= this.runProbe().finally(() => (this.running = undefined));
    return this.running;
  }

  private tick(): void {
    void this.probeOnce().then(() => {
      if (!this.closed) this.timer = this.clock.setTimeout(() => this.tick(), this.intervalMs);
    });
  }

  private async runProbe(): Promise<void> {
    const controller = new AbortController();
    this.inflight = controller;
    const timer = this.clock.setTimeout(() => controller.abort(), this.timeoutMs);
    let timedOut = false;
    controller.signal.addEventListener('abort', () => (timedOut = !this.closed), { once: true });
    try {
      await Promise.race([
        this.options.probe(controller.signal),
        // A probe that ignores its signal still cannot hold the loop past the timeout.
        new Promise((_, reject) =>
          controller.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }),
        ),
      ]);
      this.failures = 0;
      this.firstFailureAt = undefined;
      this.lastError = undefined;
      this.reachable = true;
    } catch (err) {
      if (this.closed) return;
      this.failures += 1;
      this.firstFailureAt ??= this.clock.now();
      this.lastError = timedOut ? `no answer within ${this.timeoutMs} ms` : errorMessage(err);
      if (this.failures >= this.failuresBeforeDown) this.reachable = false;
    } finally {
      this.clock.clearTimeout(timer);
      this.inflight = undefined;
    }
  }
}
