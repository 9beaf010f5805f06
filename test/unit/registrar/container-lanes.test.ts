import { describe, expect, it } from '@jest/globals';
import { ContainerLanes } from '../../../src/registrar/container-lanes.js';

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

describe('ContainerLanes', () => {
  it('runs one batch at a time per key, in order, and coalesces requests that arrive meanwhile', async () => {
    const log: string[] = [];
    let running = 0;
    let maxPerKey = 0;
    const lanes = new ContainerLanes(async (key, items) => {
      running++;
      maxPerKey = Math.max(maxPerKey, running);
      log.push(`${key}:${items.join('+')}`);
      await tick(20);
      running--;
    }, 4);
    const done = [lanes.schedule('web-1', 'a')];
    await tick(1);
    // While a is running: 100 events for two containers under the same name collapse into one batch.
    for (let i = 0; i < 50; i++) done.push(lanes.schedule('web-1', 'a'), lanes.schedule('web-1', 'b'));
    expect(lanes.backlog).toBe(2);
    await Promise.all(done);
    expect(log).toEqual(['web-1:a', 'web-1:a+b']);
    expect(maxPerKey).toBe(1);
    expect(lanes.activeLanes).toBe(0);
  });

  it('runs different keys in parallel up to the concurrency', async () => {
    let running = 0;
    let peak = 0;
    const lanes = new ContainerLanes(async () => {
      running++;
      peak = Math.max(peak, running);
      await tick(20);
      running--;
    }, 3);
    await Promise.all(Array.from({ length: 10 }, (_, i) => lanes.schedule(`c${i}`, `${i}`)));
    expect(peak).toBe(3);
  });

  it('keeps going after a failing batch', async () => {
    const seen: string[] = [];
    const lanes = new ContainerLanes(async (_k, items) => {
      seen.push(...items);
      if (items.includes('bad')) throw new Error('boom');
    });
    await lanes.schedule('k', 'bad');
    await lanes.schedule('k', 'good');
    expect(seen).toEqual(['bad', 'good']);
  });

  it('after close, queued work is dropped and every waiter resolves', async () => {
    const seen: string[] = [];
    const lanes = new ContainerLanes(async (_k, items) => {
      seen.push(...items);
      await tick(20);
    }, 1);
    const a = lanes.schedule('a', '1');
    const b = lanes.schedule('b', '2');
    await tick(1);
    lanes.close();
    await Promise.all([a, b, lanes.schedule('c', '3')]);
    expect(seen).toEqual(['1']);
  });
});
