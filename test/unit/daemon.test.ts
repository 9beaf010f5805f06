import { describe, expect, it } from '@jest/globals';
import { Daemon, closeOnly } from '../../src/daemon.js';
import type { Lifecycle } from '../../src/lifecycle.js';
import { silentLogger } from '../../src/log/logger.js';

function part(log: string[], name: string, o: { failStart?: boolean; hangClose?: boolean } = {}): Lifecycle {
  return {
    start: async () => {
      log.push(`start ${name}`);
      if (o.failStart) throw new Error(`${name} cannot start`);
    },
    close: async () => {
      log.push(`close ${name}`);
      if (o.hangClose) await new Promise(() => undefined);
    },
  };
}

describe('Daemon', () => {
  it('starts parts in order and closes them in reverse, once', async () => {
    const log: string[] = [];
    const d = new Daemon({ logger: silentLogger() })
      .add('a', part(log, 'a'))
      .add('b', part(log, 'b'))
      .add('c', part(log, 'c'));
    await d.start();
    await Promise.all([d.close(), d.close()]);
    await d.close();
    expect(log).toEqual(['start a', 'start b', 'start c', 'close c', 'close b', 'close a']);
  });

  it('a part failing to start closes the ones already started and rethrows', async () => {
    const log: string[] = [];
    const d = new Daemon({ logger: silentLogger() })
      .add('a', part(log, 'a'))
      .add('b', part(log, 'b', { failStart: true }))
      .add('c', part(log, 'c'));
    await expect(d.start()).rejects.toThrow('b cannot start');
    expect(log).toEqual(['start a', 'start b', 'close b', 'close a']);
  });

  it('close is bounded: a part that hangs does not stop the others from closing', async () => {
    const log: string[] = [];
    const d = new Daemon({ logger: silentLogger(), closeTimeoutMs: 300 })
      .add('a', part(log, 'a'))
      .add('stuck', part(log, 'stuck', { hangClose: true }));
    await d.start();
    const t0 = Date.now();
    await d.close();
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(log).toEqual(['start a', 'start stuck', 'close stuck', 'close a']);
  });

  it('closeOnly parts close once', async () => {
    let n = 0;
    const p = closeOnly(async () => {
      n++;
    });
    await p.start();
    await Promise.all([p.close(), p.close()]);
    expect(n).toBe(1);
  });
});
