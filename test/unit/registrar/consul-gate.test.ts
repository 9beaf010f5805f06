import { describe, expect, it } from '@jest/globals';
import { ConsulGate, PROBE_BACKOFF_CAP_MS, probeBackoffMs } from '../../../src/registrar/consul-gate.js';

describe('ConsulGate', () => {
  it('holds waiters while down, probes with backoff (one request per step, not one per waiter), and opens on success', async () => {
    let probes = 0;
    let healthy = false;
    const events: string[] = [];
    const ac = new AbortController();
    const waits: number[] = [];
    const gate = new ConsulGate(
      async () => {
        probes++;
        if (!healthy) throw new Error('ECONNREFUSED');
      },
      {
        down: () => events.push('down'),
        stillDown: (_e, attempt) => events.push(`still ${attempt}`),
        up: () => events.push('up'),
      },
      ac.signal,
      (attempt) => {
        waits.push(attempt);
        return 5;
      },
    );
    expect(await gate.ready()).toBe(true);
    gate.fail(new Error('ECONNREFUSED'));
    gate.fail(new Error('again')); // a second failure during the outage changes nothing
    const waiters = Array.from({ length: 100 }, () => gate.ready());
    // Wait for three probe steps rather than a fixed time: a loaded machine may run fewer in 40 ms.
    for (const deadline = Date.now() + 5_000; waits.length < 3 && Date.now() < deadline;) {
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(gate.isDown).toBe(true);
    const probesWhileDown = probes;
    expect(probesWhileDown).toBeGreaterThan(0);
    expect(probesWhileDown).toBeLessThan(20);
    healthy = true;
    expect(await Promise.all(waiters)).toEqual(Array(100).fill(true));
    expect(gate.isDown).toBe(false);
    expect(events[0]).toBe('down');
    expect(events.at(-1)).toBe('up');
    expect(waits.slice(0, 3)).toEqual([0, 1, 2]);
    ac.abort();
  });

  it('releases waiters with false when closed during an outage', async () => {
    const ac = new AbortController();
    const gate = new ConsulGate(
      () => Promise.reject(new Error('down')),
      { down: () => undefined, stillDown: () => undefined, up: () => undefined },
      ac.signal,
      () => 5,
    );
    gate.fail(new Error('down'));
    const w = gate.ready();
    ac.abort();
    expect(await w).toBe(false);
  });

  it('probes at most 2 s apart however long the outage, so a returning agent is noticed within 2 s', () => {
    expect(PROBE_BACKOFF_CAP_MS).toBe(2_000);
    const highest = Array.from({ length: 60 }, (_, attempt) => probeBackoffMs(attempt, () => 0.999999));
    expect(Math.max(...highest)).toBeLessThanOrEqual(2_000);
    expect(highest.at(-1)).toBeGreaterThan(1_900);
    expect(probeBackoffMs(0, () => 0.999999)).toBeLessThanOrEqual(500);
    for (let attempt = 0; attempt < 60; attempt++) expect(probeBackoffMs(attempt)).toBeGreaterThanOrEqual(250);
  });
});
