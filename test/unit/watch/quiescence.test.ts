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
});
