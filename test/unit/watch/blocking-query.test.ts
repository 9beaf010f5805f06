import { describe, expect, it } from '@jest/globals';
import { runBlockingQuery, type BlockingQueryOptions } from '../../../src/consul/blocking-query.js';
import type { BlockingOptions, Indexed } from '../../../src/consul/consul-client.js';
import { ConsulError } from '../../../src/errors.js';
import { deepEqual } from '../../../src/snapshot/deep-equal.js';
import { FakeClock, flushPromises } from '../../helpers/fake-clock.js';

type Answer = Indexed<string[]> | Error;

/** A Consul query that answers from a script; each call records what the loop asked for. */
class ScriptedQuery {
  readonly calls: { options: BlockingOptions; at: number }[] = [];
  private waiting: ((a: Answer) => void) | undefined;

  constructor(private readonly clock: FakeClock) {}

  fetch = (options: BlockingOptions): Promise<Indexed<string[]>> => {
    this.calls.push({ options: { index: options.index, waitMs: options.waitMs }, at: this.clock.now() });
    return new Promise((resolve, reject) => {
      this.waiting = (a) => (a instanceof Error ? reject(a) : resolve(a));
      options.signal?.addEventListener('abort', () => reject(new ConsulError('aborted')), { once: true });
    });
  };

  async answer(a: Answer): Promise<void> {
    const w = this.waiting;
    if (!w) throw new Error('no query is waiting for an answer');
    this.waiting = undefined;
    w(a);
    await flushPromises();
  }
}

function setup(overrides: Partial<BlockingQueryOptions<string[]>> = {}) {
  const clock = new FakeClock();
  const query = new ScriptedQuery(clock);
  const changes: { value: string[]; index: number }[] = [];
  const errors: { attempt: number; retryInMs: number }[] = [];
  const resets: [number, number][] = [];
  const controller = new AbortController();
  const done = runBlockingQuery<string[]>(
    {
      name: 'test',
      fetch: query.fetch,
      equals: deepEqual,
      onChange: (value, index) => changes.push({ value, index }),
      onError: (_err, attempt, retryInMs) => errors.push({ attempt, retryInMs }),
      onReset: (a, b) => resets.push([a, b]),
      waitMs: 60_000,
      clock,
      random: () => 0.5,
      ...overrides,
    },
    controller.signal,
  );
  return { clock, query, changes, errors, resets, controller, done };
}

describe('runBlockingQuery', () => {
  it('asks without an index first, then blocks on the last index with the configured wait', async () => {
    const { clock, query, changes, controller, done } = setup();
    await flushPromises();
    expect(query.calls[0]!.options).toEqual({ index: undefined, waitMs: undefined });
    await query.answer({ index: 10, value: ['a'] });
    await clock.advance(200);
    expect(query.calls[1]!.options).toEqual({ index: 10, waitMs: 60_000 });
    expect(changes).toEqual([{ value: ['a'], index: 10 }]);
    controller.abort();
    await done;
  });

  it('reports only real data changes, not index moves or wait timeouts', async () => {
    const { clock, query, changes, controller, done } = setup();
    await flushPromises();
    await query.answer({ index: 10, value: ['a'] });
    await clock.advance(200);
    await query.answer({ index: 10, value: ['a'] }); // blocking wait timed out
    await clock.advance(200);
    await query.answer({ index: 15, value: ['a'] }); // index moved for an unrelated write
    await clock.advance(200);
    await query.answer({ index: 16, value: ['a', 'b'] });
    expect(changes.map((c) => c.value)).toEqual([['a'], ['a', 'b']]);
    controller.abort();
    await done;
  });

  it('starts over from index 0 when the index goes backwards', async () => {
    const { clock, query, changes, resets, controller, done } = setup();
    await flushPromises();
    await query.answer({ index: 500, value: ['a'] });
    await clock.advance(200);
    await query.answer({ index: 3, value: [] });
    expect(resets).toEqual([[500, 3]]);
    // The answer that revealed the reset is not reported; the next, non-blocking, one is.
    expect(changes).toHaveLength(1);
    await clock.advance(200);
    expect(query.calls[2]!.options.index).toBeUndefined();
    await query.answer({ index: 4, value: [] });
    expect(changes.map((c) => c.value)).toEqual([['a'], []]);
    await clock.advance(200);
    expect(query.calls[3]!.options.index).toBe(4);
    controller.abort();
    await done;
  });

  it('never keeps an index below 1 as seen (that would be a busy loop)', async () => {
    const { clock, query, controller, done } = setup();
    await flushPromises();
    await query.answer({ index: 0, value: ['a'] });
    await clock.advance(200);
    expect(query.calls[1]!.options.index).toBe(1);
    controller.abort();
    await done;
  });

  it('spaces queries at least 100 ms apart even when Consul answers at once', async () => {
    const { clock, query, controller, done } = setup({ minIntervalMs: 10 });
    await flushPromises();
    for (let i = 1; i <= 5; i++) {
      await query.answer({ index: i, value: [String(i)] });
      await clock.advance(100 + 10);
    }
    const gaps = query.calls.slice(1).map((c, i) => c.at - query.calls[i]!.at);
    expect(gaps.length).toBeGreaterThanOrEqual(4);
    for (const g of gaps) expect(g).toBeGreaterThanOrEqual(100);
    controller.abort();
    await done;
  });

  it('backs off with growing delays while Consul fails, then resumes without re-reporting unchanged data', async () => {
    const { clock, query, changes, errors, controller, done } = setup();
    await flushPromises();
    await query.answer({ index: 7, value: ['a'] });
    for (let i = 0; i < 4; i++) {
      await clock.advance(errors.at(-1)?.retryInMs ?? 200);
      await query.answer(new ConsulError('connect ECONNREFUSED'));
    }
    expect(errors.map((e) => e.attempt)).toEqual([1, 2, 3, 4]);
    const delays = errors.map((e) => e.retryInMs);
    expect(delays[3]!).toBeGreaterThan(delays[0]!);
    // Nothing is queried during the backoff.
    const callsBefore = query.calls.length;
    await clock.advance(delays[3]! - 1);
    expect(query.calls.length).toBe(callsBefore);
    await clock.advance(1);
    // After a failure the index is not trusted: a non-blocking query.
    expect(query.calls.at(-1)!.options.index).toBeUndefined();
    await query.answer({ index: 9, value: ['a'] });
    expect(changes).toHaveLength(1);
    controller.abort();
    await done;
  });

  it('caps the backoff', async () => {
    const { clock, query, errors, controller, done } = setup({ maxBackoffMs: 2000 });
    await flushPromises();
    for (let i = 0; i < 12; i++) {
      await query.answer(new ConsulError('down'));
      await clock.advance(errors.at(-1)!.retryInMs);
    }
    expect(Math.max(...errors.map((e) => e.retryInMs))).toBeLessThanOrEqual(2000);
    controller.abort();
    await done;
  });

  it('ends promptly when aborted mid-query and mid-backoff', async () => {
    const a = setup();
    await flushPromises();
    a.controller.abort();
    await expect(a.done).resolves.toBeUndefined();

    const b = setup();
    await flushPromises();
    await b.query.answer(new ConsulError('down'));
    b.controller.abort();
    await expect(b.done).resolves.toBeUndefined();
    expect(b.clock.pendingTimers).toBe(0);
  });
});
