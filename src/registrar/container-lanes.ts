import PQueue from 'p-queue';

/**
 * One lane per key (a container name): work on one key runs one batch at a time and never
 * reorders, while different keys run in parallel up to `concurrency`. Requests that arrive while a
 * lane is busy coalesce into its next batch (a set of items, so the backlog is bounded by the
 * number of containers, not by the number of events).
 */
export type LaneWork = (key: string, items: readonly string[]) => Promise<void>;

interface Lane {
  pending: Set<string>;
  waiters: Array<() => void>;
  queued: boolean;
}

export class ContainerLanes {
  private readonly lanes = new Map<string, Lane>();
  private readonly queue: PQueue;
  private closed = false;

  constructor(
    private readonly work: LaneWork,
    concurrency = 8,
  ) {
    this.queue = new PQueue({ concurrency });
  }

  /**
   * Asks for `item` to be processed on `key`'s lane. Resolves once a batch holding it has run
   * (or at once after close()). Never rejects: the work function handles its own errors.
   */
  schedule(key: string, item: string): Promise<void> {
    if (this.closed) return Promise.resolve();
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { pending: new Set(), waiters: [], queued: false };
      this.lanes.set(key, lane);
    }
    lane.pending.add(item);
    const done = new Promise<void>((resolve) => lane.waiters.push(resolve));
    if (!lane.queued) this.enqueue(key, lane);
    return done;
  }

  /** Keys with work queued or running. */
  get activeLanes(): number {
    return this.lanes.size;
  }

  /** Items waiting across every lane (the backlog). */
  get backlog(): number {
    let n = 0;
    for (const l of this.lanes.values()) n += l.pending.size;
    return n;
  }

  /** Resolves when every lane is empty. */
  async onIdle(): Promise<void> {
    while (this.queue.size > 0 || this.queue.pending > 0) await this.queue.onIdle();
  }

  /** Stops taking work; batches already running finish, queued ones are dropped (their waiters resolve). */
  close(): void {
    this.closed = true;
    this.queue.clear();
    for (const lane of this.lanes.values()) for (const w of lane.waiters.splice(0)) w();
    this.lanes.clear();
  }

  private enqueue(key: string, lane: Lane): void {
    lane.queued = true;
    void this.queue.add(async () => {
      const items = [...lane.pending];
      const waiters = lane.waiters.splice(0);
      lane.pending.clear();
      try {
        if (!this.closed) await this.work(key, items);
      } catch {
        // The work function reports its own failures; a lane must keep going regardless.
      } finally {
        for (const w of waiters) w();
        if (lane.pending.size > 0 && !this.closed) this.enqueue(key, lane);
        else {
          lane.queued = false;
          if (this.lanes.get(key) === lane && lane.pending.size === 0) this.lanes.delete(key);
        }
      }
    });
  }
}
