import { backoffMs } from '../time/backoff.js';
import { sleep } from '../time/sleep.js';

/**
 * Holds every lane while the Consul agent is unreachable, and lets one prober retry with backoff,
 * so an outage costs one request per backoff step instead of one per container (no flood). Lanes
 * keep only their latest desired state meanwhile (see ContainerLanes), so nothing piles up.
 */
export interface GateEvents {
  /** The first failure of an outage. */
  down(err: unknown): void;
  /** A probe failed (attempt counts from 1). */
  stillDown(err: unknown, attempt: number): void;
  /** Reachable again after `downForMs`. */
  up(downForMs: number): void;
}

/**
 * A probe is one cheap read of the local agent, so it can run often: the cap is what a user waits,
 * at worst, between the agent coming back and the held changes going out.
 */
export const PROBE_BACKOFF_CAP_MS = 2_000;

/** The wait before probe `attempt` (from 0): 0.5 s doubling to the cap, with jitter. */
export function probeBackoffMs(attempt: number, random: () => number = Math.random): number {
  return backoffMs(attempt, 500, PROBE_BACKOFF_CAP_MS, random);
}

export class ConsulGate {
  private downSince: number | undefined;
  private opened: Promise<void> = Promise.resolve();
  private open: () => void = () => undefined;
  /** One listener for every waiter: adding one per ready() call would leak during a long outage. */
  private readonly aborted: Promise<void>;

  constructor(
    private readonly probe: () => Promise<void>,
    private readonly events: GateEvents,
    private readonly signal: AbortSignal,
    private readonly backoff: (attempt: number) => number = probeBackoffMs,
    private readonly now: () => number = Date.now,
  ) {
    this.aborted = new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
  }

  get isDown(): boolean {
    return this.downSince !== undefined;
  }

  /** Resolves true when Consul is (believed) reachable, false when the signal aborted first. */
  async ready(): Promise<boolean> {
    if (this.signal.aborted) return false;
    if (this.downSince === undefined) return true;
    await Promise.race([this.opened, this.aborted]);
    return !this.signal.aborted;
  }

  /** Reports a failure that means "Consul unreachable"; starts the prober unless one runs. */
  fail(err: unknown): void {
    if (this.downSince !== undefined || this.signal.aborted) return;
    this.downSince = this.now();
    this.opened = new Promise<void>((r) => (this.open = r));
    this.events.down(err);
    void this.probeLoop();
  }

  private async probeLoop(): Promise<void> {
    for (let attempt = 0; !this.signal.aborted; attempt++) {
      const wait = this.backoff(attempt);
      if (!(await sleep(wait, this.signal))) return;
      try {
        await this.probe();
      } catch (err) {
        this.events.stillDown(err, attempt + 1);
        continue;
      }
      const downFor = this.now() - (this.downSince ?? this.now());
      this.downSince = undefined;
      this.events.up(downFor);
      this.open();
      return;
    }
  }
}
