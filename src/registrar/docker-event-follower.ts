import type { DockerClient, DockerEvent } from '../docker/docker-client.js';
import { sinceFromNanos } from '../docker/event-lines.js';
import { errorMessage } from '../errors.js';
import type { Metrics } from '../http/metrics.js';
import { backoffMs } from '../time/backoff.js';
import { sleep } from '../time/sleep.js';
import type { Logger } from '../log/logger.js';

export type ConnectTrigger = 'start' | 'reconnect';

export interface FollowerHandlers {
  /**
   * Called once the subscription is open, so a listing cannot miss what happens meanwhile.
   * Resolves true when it completed: only then is the stream counted as up again.
   */
  connected(trigger: ConnectTrigger): Promise<boolean>;
  /** Runs on the read loop: must only do cheap bookkeeping (Docker drops a slow reader's events). */
  event(e: DockerEvent): void;
}

/** The stream is down: since when, and why (for /healthz). */
export interface StreamDown {
  since: Date;
  reason: string;
}

/**
 * Follows Docker's container events for as long as `signal` is not aborted: subscribes, hands each
 * event over, and when the stream ends or fails reconnects with backoff (0.5 s up to 15 s),
 * replaying from the last event seen (`since`).
 */
export class DockerEventFollower {
  private lastEventNano: bigint | undefined;
  private downState: StreamDown | undefined;
  /** When dockerd answered the current subscription (now() ms); undefined while there is none. */
  private openSince: number | undefined;
  private attempt = 0;
  /** A reconcile that started while the current subscription was open has completed. */
  private reconciledSinceOpen = false;

  constructor(
    private readonly docker: DockerClient,
    private readonly handlers: FollowerHandlers,
    private readonly deps: { log: Logger; metrics: Metrics; signal: AbortSignal; now?: () => number },
  ) {}

  /** undefined while the stream is up (or not yet tried). */
  get down(): StreamDown | undefined {
    return this.downState;
  }

  /**
   * A reconcile that started at `startedAt` (now() ms) completed. When the current subscription was
   * already open then, nothing can have slipped between the stream and that listing, so the stream
   * counts as up, even though the listing at reconnect failed (dockerd still starting, say):
   * otherwise /healthz would say "down" for as long as the stream then stays up.
   */
  reconciled(startedAt: number): void {
    if (this.openSince === undefined || this.openSince > startedAt) return;
    this.reconciledSinceOpen = true;
    if (this.downState) {
      this.attempt = 0;
      this.downState = undefined;
    }
  }

  /**
   * Runs `connected` until one pass completes while this stream is open. A failed pass is retried
   * with backoff (0.5 s up to 5 s) rather than left to the next resync: the events of a dockerd
   * restart went with the old daemon, so only a listing finds the containers it stopped, and until
   * then their registrations are ghosts.
   */
  private async reconcileWhileOpen(trigger: ConnectTrigger, streamSignal: AbortSignal): Promise<void> {
    for (let attempt = 0; !streamSignal.aborted; attempt++) {
      const ok = await this.handlers.connected(trigger).catch(() => false);
      if (streamSignal.aborted) return;
      if (ok) {
        this.attempt = 0;
        this.downState = undefined;
        return;
      }
      // The registrar has said why at warn; a pass it started meanwhile (a resync) may have done it.
      if (!(await sleep(backoffMs(attempt, 500, 5_000), streamSignal)) || this.reconciledSinceOpen) return;
    }
  }

  async run(): Promise<void> {
    const { signal } = this.deps;
    const now = this.deps.now ?? Date.now;
    let connects = 0;
    while (!signal.aborted) {
      const streamAbort = new AbortController();
      const streamSignal = AbortSignal.any([signal, streamAbort.signal]);
      // On the first connection, ask for events from a moment before now: Docker replays what
      // happened between the subscription and the listing, so nothing slips between them.
      const since = sinceFromNanos(this.lastEventNano ?? BigInt(now() - 2_000) * 1_000_000n);
      const trigger: ConnectTrigger = connects === 0 ? 'start' : 'reconnect';
      if (connects > 0) this.deps.metrics.dockerReconnects.inc();
      connects++;
      let failure: unknown;
      try {
        const stream = this.docker.events({ since, signal: streamSignal, onOpen: () => (this.openSince = now()) });
        const iterator = stream[Symbol.asyncIterator]();
        // The first next() sends the request; the listing starts only after it.
        let next = iterator.next();
        void this.reconcileWhileOpen(trigger, streamSignal);
        for (;;) {
          const r = await next;
          if (r.done) break;
          this.lastEventNano = r.value.timeNano;
          this.handlers.event(r.value);
          next = iterator.next();
        }
      } catch (err) {
        failure = err;
      }
      this.openSince = undefined;
      this.reconciledSinceOpen = false;
      if (signal.aborted) break;
      streamAbort.abort();
      const reason = failure ? errorMessage(failure) : 'the stream ended (dockerd restarting?)';
      this.downState = { since: this.downState?.since ?? new Date(now()), reason };
      const wait = backoffMs(this.attempt++, 500, 15_000);
      this.deps.log.warn(
        failure
          ? `Docker event stream failed (${reason}); reconnecting in ${wait} ms, then replaying missed events and reconciling`
          : `Docker event stream ended (dockerd restarting?); reconnecting in ${wait} ms, then replaying missed events and reconciling`,
      );
      if (!(await sleep(wait, signal))) break;
    }
  }
}
