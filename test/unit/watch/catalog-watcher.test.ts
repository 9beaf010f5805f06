import { afterEach, describe, expect, it } from '@jest/globals';
import { PassThrough } from 'node:stream';
import { Metrics } from '../../../src/http/metrics.js';
import { createLogger } from '../../../src/log/logger.js';
import { DEFAULT_COLORS } from '../../../src/snapshot/build-snapshot.js';
import type { Snapshot } from '../../../src/snapshot/snapshot.js';
import { CatalogWatcher, type CatalogWatcherOptions } from '../../../src/watch/catalog-watcher.js';
import { healthInstance } from '../snapshot/fixtures.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { FakeConsul } from '../../helpers/fake-consul.js';

const watchers: CatalogWatcher[] = [];
afterEach(async () => {
  await Promise.all(watchers.splice(0).map((w) => w.close()));
});

function setup(overrides: Partial<CatalogWatcherOptions> = {}) {
  const clock = new FakeClock();
  const consul = new FakeConsul();
  const stream = new PassThrough();
  const lines: string[] = [];
  stream.on('data', (b: Buffer) => lines.push(...b.toString().trim().split('\n')));
  const metrics = new Metrics({ defaultMetrics: false });
  const snapshots: { snapshot: Snapshot; seenAt: number }[] = [];
  const watcher = new CatalogWatcher({
    consul,
    kvPrefix: 'switchyard',
    rules: { colors: DEFAULT_COLORS },
    logger: createLogger({ stream, json: true, level: 'debug' }),
    metrics,
    clock,
    random: () => 0.5,
    restartGraceMs: 30_000,
    onSnapshot: (snapshot, seenAt) => snapshots.push({ snapshot, seenAt }),
    ...overrides,
  });
  watchers.push(watcher);
  const messages = () => lines.map((l) => (JSON.parse(l) as { message: string }).message);
  const summary = () =>
    snapshots.map((s) =>
      s.snapshot.services
        .map((svc) => `${svc.name}[${svc.instances.map((i) => i.id).join(',')}]live=${svc.live}`)
        .join(' '),
    );
  return { clock, consul, watcher, snapshots, metrics, messages, summary };
}

const web = (id: string, color = 'blue', address = '10.0.0.5') => healthInstance('web', id, { color, address });

describe('CatalogWatcher', () => {
  it('emits the first snapshot only once the catalog, the checks, every service and the KV have been read', async () => {
    const { clock, consul, watcher, summary } = setup();
    consul.setService('web', [web('w1')]);
    consul.setService('redis', [healthInstance('redis', 'r1')]);
    await watcher.start();
    await clock.advance(300);
    expect(summary()).toEqual(['web[w1]live=blue']);
    // Three blocking queries are parked on Consul, whatever the number of services; each service
    // was read once, without blocking.
    expect(Object.fromEntries(consul.blocked)).toEqual({ catalog: 1, 'health-state': 1, kv: 1 });
    expect(consul.queries.filter((q) => q.startsWith('health:')).sort()).toEqual(['health:redis', 'health:web']);
  });

  it('holds three blocking queries for 300 services, and fetches only the service that changed', async () => {
    const { clock, consul, watcher, summary } = setup();
    for (let i = 0; i < 300; i++) consul.setService(`s${i}`, [healthInstance(`s${i}`, `i${i}`, { color: 'blue' })]);
    await watcher.start();
    await clock.advance(300);
    expect(summary()[0]?.split(' ')).toHaveLength(300);
    expect([...consul.blocked.values()].reduce((a, b) => a + b, 0)).toBe(3);
    consul.queries.length = 0;
    consul.setService('s7', [
      healthInstance('s7', 'i7', { color: 'blue' }),
      healthInstance('s7', 'j7', { color: 'blue' }),
    ]);
    await clock.advance(300);
    expect(summary().at(-1)).toContain('s7[i7,j7]live=blue');
    expect(consul.queries.filter((q) => q.startsWith('health:'))).toEqual(['health:s7']);
    expect([...consul.blocked.values()].reduce((a, b) => a + b, 0)).toBe(3);
  });

  it('reads every service again when the catalog moves and no check change says which service', async () => {
    const { clock, consul, watcher, summary, messages } = setup();
    consul.setService('web', [web('w1')]);
    consul.setService('api', [healthInstance('api', 'a1', { color: 'green' })]);
    await watcher.start();
    await clock.advance(300);
    consul.queries.length = 0;
    consul.setService('web', [web('w1', 'blue', '10.0.0.99')], { checksUnchanged: true });
    await clock.advance(500);
    expect(consul.queries.filter((q) => q.startsWith('health:')).sort()).toEqual(['health:api', 'health:web']);
    expect(messages().some((m) => m.includes('without a check change to say which service'))).toBe(true);
    expect(summary()).toHaveLength(2);
  });

  it('starts and ends reading services as they come and go', async () => {
    const { clock, consul, watcher, summary } = setup();
    consul.setService('web', [web('w1')]);
    await watcher.start();
    await clock.advance(300);
    consul.setService('api', [healthInstance('api', 'a1', { color: 'green' })]);
    await clock.advance(300);
    expect(summary().at(-1)).toBe('api[a1]live=green web[w1]live=blue');
    consul.removeService('api');
    await clock.advance(300);
    expect(summary().at(-1)).toBe('web[w1]live=blue');
    expect(consul.blocked.get('health:api') ?? 0).toBe(0);
    expect(consul.blocked.get('health:web') ?? 0).toBe(0);
  });

  it('does not emit again when only the index moves', async () => {
    const { clock, consul, watcher, snapshots } = setup();
    consul.setService('web', [web('w1')]);
    await watcher.start();
    await clock.advance(300);
    for (let i = 0; i < 5; i++) {
      consul.touch();
      await clock.advance(150);
    }
    expect(snapshots).toHaveLength(1);
  });

  it('restricts to --services, listing a service even before it has instances', async () => {
    const { clock, consul, watcher, summary } = setup({ rules: { colors: DEFAULT_COLORS, services: ['web', 'api'] } });
    consul.setService('web', [web('w1')]);
    consul.setService('other', [healthInstance('other', 'o1', { color: 'blue' })]);
    await watcher.start();
    await clock.advance(300);
    expect(summary()).toEqual(['api[]live=undefined web[w1]live=blue']);
    expect(consul.queries).not.toContain('health:other');
  });

  it('keeps the last snapshot while Consul is down and counts the errors', async () => {
    const { clock, consul, watcher, snapshots, metrics, messages } = setup();
    consul.setService('web', [web('w1')]);
    await watcher.start();
    await clock.advance(300);
    consul.down();
    await clock.advance(20_000);
    expect(snapshots).toHaveLength(1);
    const errors = await metrics.watchErrors.get();
    expect(errors.values.reduce((n, v) => n + v.value, 0)).toBeGreaterThan(3);
    // One warning for the outage, not one per failed query.
    expect(messages().filter((m) => m.includes('Keeping the last snapshot'))).toHaveLength(1);
    consul.up();
    await clock.advance(11_000);
    expect(snapshots).toHaveLength(1); // same data: nothing to render
    expect(messages().some((m) => m.startsWith('Consul answers every watch again'))).toBe(true);
    consul.setService('web', [web('w1'), web('w2', 'blue', '10.0.0.6')]);
    await clock.advance(300);
    expect(snapshots).toHaveLength(2);
  });

  it('after Consul restarts empty, holds back a snapshot that empties a served service for the grace period', async () => {
    const { clock, consul, watcher, summary, messages } = setup();
    consul.setService('web', [web('w1')]);
    consul.setService('api', [healthInstance('api', 'a1', { color: 'blue' })]);
    await watcher.start();
    await clock.advance(300);
    consul.down();
    await clock.advance(5_000);
    consul.up({ lostState: true });
    await clock.advance(11_000);
    expect(summary()).toEqual(['api[a1]live=blue web[w1]live=blue']);
    expect(messages().some((m) => m.includes('Consul came back without any instance of api, web'))).toBe(true);
    // The registrars re-register web, then api: still held while api is empty, then the fresh
    // catalog equals what is served, so nothing was ever rendered empty.
    consul.setService('web', [web('w1')]);
    await clock.advance(300);
    expect(summary()).toEqual(['api[a1]live=blue web[w1]live=blue']);
    consul.setService('api', [healthInstance('api', 'a1', { color: 'blue' })]);
    await clock.advance(300);
    expect(summary()).toHaveLength(1);
    // A service that really went away is dropped: at once outside the grace period.
    consul.removeService('api');
    await clock.advance(30_000);
    expect(summary().at(-1)).toBe('web[w1]live=blue');
  });

  it('after Consul restarts empty, sees an instance without checks registered into a service it already re-read', async () => {
    const { clock, consul, watcher, summary, messages } = setup();
    consul.setService('web', [web('w1'), web('w2', 'blue', '10.0.0.6')]);
    // Other writes before the restart: the catalog index the watcher last planned from is well
    // above what the restarted agent counts to during the test.
    for (let i = 0; i < 20; i++) consul.touch();
    await watcher.start();
    await clock.advance(300);
    expect(summary()).toEqual(['web[w1,w2]live=blue']);
    consul.down();
    await clock.advance(5_000);
    consul.up({ lostState: true });
    await clock.advance(11_000);
    expect(messages().some((m) => m.includes('Consul came back without any instance of web'))).toBe(true);
    // A registrar re-registers w1: web is a new service again, read, and rendered (not emptied).
    consul.setService('web', [web('w1')]);
    await clock.advance(300);
    expect(summary().at(-1)).toBe('web[w1]live=blue');
    // Then w3 with no check of its own: only the services table moves (the health-state index
    // does not), at an index below the one planned before the restart.
    const w3 = web('w3', 'blue', '10.0.0.7');
    consul.setService('web', [web('w1'), { ...w3, checks: w3.checks.filter((c) => c.serviceId === '') }], {
      checksUnchanged: true,
    });
    await clock.advance(1_000);
    expect(summary().at(-1)).toBe('web[w1,w3]live=blue');
  });

  it('after Consul restarts empty, does not take a check index from before the restart as explaining a catalog move', async () => {
    const { clock, consul, watcher, summary } = setup({ restartGraceMs: 0 });
    consul.setService('web', [web('w1')]); // index 101: the check data changed there
    await watcher.start();
    await clock.advance(300);
    consul.down();
    await clock.advance(5_000);
    consul.up({ lostState: true }); // index 5
    consul.setService('web', [web('w1')]); // 6
    await clock.advance(11_000);
    expect(summary().at(-1)).toBe('web[w1]live=blue');
    for (let i = 7; i <= 100; i++) consul.touch();
    await clock.advance(1_000);
    // Index 101 again, now a write only the services table sees.
    const w3 = web('w3', 'blue', '10.0.0.7');
    consul.setService('web', [web('w1'), { ...w3, checks: w3.checks.filter((c) => c.serviceId === '') }], {
      checksUnchanged: true,
    });
    await clock.advance(1_000);
    expect(summary().at(-1)).toBe('web[w1,w3]live=blue');
  });

  it('notices an index reset without errors and re-reads before emitting', async () => {
    const { clock, consul, watcher, messages, summary } = setup({ restartGraceMs: 0 });
    consul.setService('web', [web('w1')]);
    await watcher.start();
    await clock.advance(300);
    consul.up({ lostState: true }); // index drops to 5 with no outage seen
    consul.setService('web', [web('w9')]);
    await clock.advance(1_000);
    expect(messages().some((m) => m.includes('went backwards'))).toBe(true);
    expect(summary().at(-1)).toBe('web[w9]live=blue');
  });

  it('uses the KV live color; a bad value keeps the last good state and says which key', async () => {
    const { clock, consul, watcher, summary, messages } = setup();
    consul.setService('web', [web('b1'), web('g1', 'green', '10.0.0.6')]);
    await watcher.start();
    await clock.advance(300);
    expect(summary().at(-1)).toBe('web[b1,g1]live=blue');
    consul.putKv('switchyard/services/web/state', JSON.stringify({ live: 'green', previous: 'blue' }));
    await clock.advance(300);
    expect(summary().at(-1)).toBe('web[b1,g1]live=green');
    consul.putKv('switchyard/services/web/state', '{"live": "GREEN!"');
    await clock.advance(300);
    expect(summary()).toHaveLength(2);
    expect(
      messages().some(
        (m) =>
          m.startsWith('ignoring the blue-green state at switchyard/services/web/state: not JSON') &&
          m.includes('keeping the last good state for web (live green)'),
      ),
    ).toBe(true);
  });

  it('reports when the first change behind a snapshot was seen', async () => {
    const { clock, consul, watcher, snapshots } = setup();
    consul.setService('web', [web('w1')]);
    await watcher.start();
    await clock.advance(300);
    const t = clock.now();
    consul.setService('web', [web('w1'), web('w2', 'blue', '10.0.0.6')]);
    await clock.advance(300);
    expect(snapshots[1]!.seenAt).toBeGreaterThanOrEqual(t);
    expect(snapshots[1]!.seenAt).toBeLessThan(t + 300);
  });

  it('close() ends every query and is idempotent', async () => {
    const { clock, consul, watcher } = setup();
    consul.setService('web', [web('w1')]);
    await watcher.start();
    await clock.advance(300);
    await Promise.all([watcher.close(), watcher.close()]);
    expect([...consul.blocked.values()].reduce((a, b) => a + b, 0)).toBe(0);
    await expect(watcher.start()).rejects.toThrow('closed');
  });
});
