import { backoffMs } from '../time/backoff.js';
import { clockSleep, systemClock, type Clock } from '../time/clock.js';
import type { BlockingOptions, Indexed } from './consul-client.js';

/**
 * One Consul blocking-query loop, after consul-template's watch/view.go and Consul's "Blocking
 * Queries" guidance:
 * - pass the last X-Consul-Index; when the index goes backwards (a restarted agent, a snapshot
 *   restore) start over from 0 instead of waiting on an index that will not come back;
 * - an index below 1 is never kept as "seen" (Consul would answer at once, forever): it is raised to 1;
 * - at most one query per `minIntervalMs` (≥ 100 ms), so a flapping index cannot become a busy loop;
 * - exponential backoff with jitter while Consul fails;
 * - X-Consul-Index also moves for unrelated writes (consul#3890), so data is compared, and only a
 *   real change is reported.
 */

export const MIN_QUERY_INTERVAL_MS = 100;
export const MAX_CONSUL_WAIT_MS = 600_000;
export const DEFAULT_CONSUL_WAIT_MS = 300_000;
// Short enough that a restarted Consul is noticed within seconds; one query per watch per 5 s while
// it is down is little load.
export const DEFAULT_MAX_BACKOFF_MS = 5_000;

export interface BlockingQueryOptions<T> {
  /** What is watched, for errors: "catalog services", "health of app". */
  name: string;
  fetch(options: BlockingOptions): Promise<Indexed<T>>;
  /** Structural equality of two answers. */
  equals(a: T, b: T): boolean;
  /** The data changed (always called for the first answer and the first answer after a reset). */
  onChange(value: T, index: number): void;
  /** Every successful answer, changed or not: Consul is answering this query. */
  onAnswer?(index: number): void;
  /** A failed query; the loop waits `retryInMs` and tries again. */
  onError?(err: unknown, attempt: number, retryInMs: number): void;
  /** The index went backwards: the loop starts over with a non-blocking query. */
  onReset?(lastIndex: number, newIndex: number): void;
  /** How long Consul may hold each query (ms, capped at 10 minutes). */
  waitMs?: number;
  minIntervalMs?: number;
  maxBackoffMs?: number;
  clock?: Clock;
  random?: () => number;
}

/** Runs until `signal` aborts; never throws (errors go to onError and are retried). */
export async function runBlockingQuery<T>(options: BlockingQueryOptions<T>, signal: AbortSignal): Promise<void> {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const waitMs = Math.min(Math.max(options.waitMs ?? DEFAULT_CONSUL_WAIT_MS, 1000), MAX_CONSUL_WAIT_MS);
  const minIntervalMs = Math.max(options.minIntervalMs ?? MIN_QUERY_INTERVAL_MS, MIN_QUERY_INTERVAL_MS);
  const maxBackoffMs = options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;

  let lastIndex = 0;
  let last: { value: T } | undefined;
  let failures = 0;
  let lastStart = Number.NEGATIVE_INFINITY;

  while (!signal.aborted) {
    // Rate limit: space the starts of queries, with a little jitter so many watches do not align.
    const sinceLast = clock.now() - lastStart;
    if (sinceLast < minIntervalMs) {
      const pause = minIntervalMs - sinceLast + Math.floor(random() * (minIntervalMs / 10));
      if (!(await clockSleep(clock, pause, signal))) return;
    }
    lastStart = clock.now();

    let answer: Indexed<T>;
    try {
      answer = await options.fetch(lastIndex >= 1 ? { index: lastIndex, waitMs, signal } : { signal });
    } catch (err) {
      if (signal.aborted) return;
      const retryInMs = backoffMs(failures, 250, maxBackoffMs, random);
      failures += 1;
      // After a failure the next answer is compared against the data we had, so an unchanged
      // catalog is not reported again; but the index is not trusted any more.
      lastIndex = 0;
      options.onError?.(err, failures, retryInMs);
      if (!(await clockSleep(clock, retryInMs, signal))) return;
      continue;
    }
    if (signal.aborted) return;
    failures = 0;

    const index = Math.max(answer.index, 1);
    if (lastIndex >= 1 && index < lastIndex) {
      options.onReset?.(lastIndex, index);
      lastIndex = 0;
      continue;
    }
    options.onAnswer?.(index);
    const sameIndex = index === lastIndex;
    lastIndex = index;
    if (sameIndex && last) continue; // a timeout of the blocking wait: nothing new
    if (last && options.equals(last.value, answer.value)) continue;
    last = { value: answer.value };
    options.onChange(answer.value, index);
  }
}
