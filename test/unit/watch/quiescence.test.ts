import { describe, expect, it } from '@jest/globals';
import { Quiescence } from '../../../src/watch/quiescence.js';
import { FakeClock } from '../../helpers/fake-clock.js';

function setup(minMs: number, maxMs: number) {
  const clock = new FakeClock();
  const fired: number[] = [];
  const q = new Quiescence({ minMs, maxMs }, clock, () => fired.push(clock.now()));
  return { clock, fired, q, t0: clock.now() };
}

describe('Quiescence (wait min:max)', () => {
  it('fires once after min of quiet', async () => {
    const { clock, fired, q, t0 } = setup(100, 1000);
    q.trigger();
    await clock.advance(99);
    expect(fired).toEqual([]);
    await clock.advance(1);
    expect(fired).toEqual([t0 + 100]);
    await clock.advance(5000);
    expect(fired).toHaveLength(1);
  });

  it('each change restarts the quiet period', async () => {
    const { clock, fired, q, t0 } = setup(100, 1000);
    q.trigger();
    await clock.advance(80);
    q.trigger();
    await clock.advance(80);
    expect(fired).toEqual([]);
    await clock.advance(20);
    expect(fired).toEqual([t0 + 180]);
  });

  it('fires no later than max after the first change of a steady stream', async () => {
    const { clock, fired, q, t0 } = setup(100, 1000);
    // 60 changes, one every 20 ms: never quiet for 100 ms.
    for (let i = 0; i < 60; i++) {
      q.trigger();
      await clock.advance(20);
    }
    await clock.advance(200);
    // One at max, one after the burst ends (last change at 1180, +100 quiet).
    expect(fired).toEqual([t0 + 1000, t0 + 1280]);
  });

  it('fires at once when min is 0', () => {
    const { fired, q, t0 } = setup(0, 0);
    q.trigger();
    q.trigger();
    expect(fired).toEqual([t0, t0]);
  });

  it('flush fires a waiting change now; close drops it', async () => {
    const { clock, fired, q, t0 } = setup(100, 1000);
    q.flush();
    expect(fired).toEqual([]);
    q.trigger();
    q.flush();
    expect(fired).toEqual([t0]);
    q.trigger();
    q.close();
    await clock.advance(2000);
    expect(fired).toEqual([t0]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('a longer range never delays a change waiting with a shorter one', async () => {
    const { clock, fired, q, t0 } = setup(100, 1000);
    q.trigger();
    await clock.advance(50);
    q.trigger({ minMs: 2000, maxMs: 30_000 });
    await clock.advance(100);
    // The quiet period stays 100 ms, restarted by the second change.
    expect(fired).toEqual([t0 + 150]);
  });

  it('a shorter range brings a pending long wait forward, and the next wait is long again', async () => {
    const { clock, fired, q, t0 } = setup(100, 1000);
    const growth = { minMs: 2000, maxMs: 30_000 };
    q.trigger(growth);
    await clock.advance(1500);
    expect(fired).toEqual([]);
    q.trigger();
    await clock.advance(100);
    expect(fired).toEqual([t0 + 1600]);
    q.trigger(growth);
    await clock.advance(1999);
    expect(fired).toHaveLength(1);
    await clock.advance(1);
    expect(fired).toEqual([t0 + 1600, t0 + 3600]);
  });

  it('a long wait under a steady stream fires at its own max, and a short change caps it at its max', async () => {
    const { clock, fired, q, t0 } = setup(100, 1000);
    const growth = { minMs: 2000, maxMs: 5000 };
    // One change every second: never 2 s of quiet.
    for (let i = 0; i < 7; i++) {
      q.trigger(growth);
      await clock.advance(1000);
    }
    expect(fired).toEqual([t0 + 5000]);
    // A stream of short-range changes, every 50 ms while long ones keep coming: fires 1 s after the first short one.
    const start = clock.now();
    for (let i = 0; i < 30; i++) {
      q.trigger(i % 2 === 0 ? { minMs: 100, maxMs: 1000 } : growth);
      await clock.advance(50);
    }
    expect(fired[1]).toBe(start + 1000);
  });
});
