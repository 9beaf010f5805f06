import type { Clock, TimerHandle } from '../time/clock.js';

/** consul-template's `wait`: render after `minMs` of quiet, but no later than `maxMs` after the first change. */
export interface WaitRange {
  minMs: number;
  maxMs: number;
}

/**
 * consul-template's `wait min:max`: after a change, fire once `min` has passed with no further
 * change, but never later than `max` after the first change of the burst. A burst of 50 changes
 * in a second becomes one or two renders instead of 50 reloads. `min` of 0 fires at once.
 */
export class Quiescence {
  private minTimer: TimerHandle | undefined;
  private maxTimer: TimerHandle | undefined;
  private closed = false;

  constructor(
    private readonly wait: WaitRange,
    private readonly clock: Clock,
    private readonly fire: () => void,
  ) {}

  /** A change arrived. */
  trigger(): void {
    if (this.closed) return;
    if (this.wait.minMs <= 0) {
      this.fire();
      return;
    }
    this.clock.clearTimeout(this.minTimer);
    this.minTimer = this.clock.setTimeout(() => this.fireNow(), this.wait.minMs);
    if (!this.maxTimer) this.maxTimer = this.clock.setTimeout(() => this.fireNow(), this.wait.maxMs);
  }

  /** A change is waiting to fire. */
  get pending(): boolean {
    return this.minTimer !== undefined;
  }

  /** Fires now if a change is waiting (or unconditionally with `force`). */
  flush(force = false): void {
    if (this.pending || force) this.fireNow();
  }

  close(): void {
    this.closed = true;
    this.cancel();
  }

  private fireNow(): void {
    this.cancel();
    if (!this.closed) this.fire();
  }

  private cancel(): void {
    this.clock.clearTimeout(this.minTimer);
    this.clock.clearTimeout(this.maxTimer);
    this.minTimer = undefined;
    this.maxTimer = undefined;
  }
}
