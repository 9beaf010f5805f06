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
 *
 * A change may bring its own range (the render pipeline's longer growth wait, or its normal one
 * while a growth wait is pending). Ranges only ever make a pending fire more urgent: the quiet
 * period is the shortest `min` of the changes still waiting, and the deadline the earliest of
 * their `now + max`. So a change with a long range never delays one with a short range that
 * arrived before it, and a short-range change brings a pending long wait forward.
 */
export class Quiescence {
  private timer: TimerHandle | undefined;
  /** Of the changes waiting: the shortest quiet period and the earliest deadline. */
  private quietMs = Infinity;
  private deadline = Infinity;
  private closed = false;

  constructor(
    private readonly wait: WaitRange,
    private readonly clock: Clock,
    private readonly fire: () => void,
  ) {}

  /** A change arrived; `range` defaults to the wait this Quiescence was made with. */
  trigger(range: WaitRange = this.wait): void {
    if (this.closed) return;
    this.quietMs = Math.min(this.quietMs, range.minMs);
    if (this.quietMs <= 0) {
      this.fireNow();
      return;
    }
    const now = this.clock.now();
    this.deadline = Math.min(this.deadline, now + range.maxMs);
    this.clock.clearTimeout(this.timer);
    const at = Math.min(now + this.quietMs, this.deadline);
    this.timer = this.clock.setTimeout(() => this.fireNow(), at - now);
  }

  /** A change is waiting to fire. */
  get pending(): boolean {
    return this.timer !== undefined;
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
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.quietMs = Infinity;
    this.deadline = Infinity;
  }
}
