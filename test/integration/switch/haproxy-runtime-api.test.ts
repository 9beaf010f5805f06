import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { servingWorkerPid } from '../../../src/proxy/haproxy-admin-socket.js';
import { HaproxyDriver } from '../../../src/proxy/haproxy-driver.js';
import { HaproxyRuntimeApi } from '../../../src/proxy/haproxy-runtime-api.js';
import type { Instance, Snapshot } from '../../../src/snapshot/snapshot.js';
import { haproxyBinary } from '../../helpers/components.js';
import { instance, service } from '../../fixtures/golden/snapshots.js';
import { get } from '../proxy/proxy-fixtures.js';
import { DrivenHaproxy } from './driven-haproxy.js';

/**
 * Servers added, removed, drained and re-weighted through HAProxy's admin socket with the real
 * template: every change must take effect while the same worker keeps serving (no reload), and a
 * structural change must reload and keep serving what the snapshot says.
 */
describe('HAProxy Runtime API with a real HAProxy', () => {
  let h: DrivenHaproxy;

  const inst = (name: string, color: string, n: number): Instance =>
    instance('web', n, color, { address: '127.0.0.1', port: h.backends[name]!.port, id: `web-${name}` });
  const snap = (
    live: string,
    instances: Instance[],
    weights?: Record<string, number>,
    extraService = false,
  ): Snapshot => ({
    services: [
      service('web', instances, live, live === 'blue' ? 'green' : 'blue', { live, ...(weights ? { weights } : {}) }),
      ...(extraService
        ? [
            service(
              'api',
              [instance('api', 1, 'blue', { address: '127.0.0.1', port: h.backends.b1!.port })],
              'blue',
              undefined,
            ),
          ]
        : []),
    ],
  });
  /** The bodies of `n` requests on new connections. */
  const sample = async (n: number) => {
    const seen: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const r = await get(h.mainPort);
      const key = r.status === 200 ? r.body : `status ${r.status}`;
      seen[key] = (seen[key] ?? 0) + 1;
    }
    return seen;
  };

  beforeAll(async () => {
    h = new DrivenHaproxy({
      prefix: 'sy-runtime-',
      backends: ['b1', 'g1', 'g2', 'g3'],
      first: () => snap('blue', [inst('b1', 'blue', 1), inst('g1', 'green', 1)]),
      expectFirst: 'b1',
    });
    await h.start();
  }, 60_000);

  afterAll(() => h?.close());

  it('switches, adds, removes and re-weights servers with no reload', async () => {
    const worker = await servingWorkerPid(h.adminSocket);
    expect(worker).toBeGreaterThan(0);
    const reloadsBefore = await h.reloads();

    // switch: only weights change
    expect((await h.apply(snap('green', [inst('b1', 'blue', 1), inst('g1', 'green', 1)]))).action).toBe('runtime');
    expect(await sample(6)).toEqual({ g1: 6 });

    // a second green instance fills a spare slot
    expect(
      (await h.apply(snap('green', [inst('b1', 'blue', 1), inst('g1', 'green', 1), inst('g2', 'green', 2)]))).action,
    ).toBe('runtime');
    expect(await sample(8)).toEqual({ g1: 4, g2: 4 });

    // the first green instance goes away (drained out of rotation): its slot becomes a spare
    expect((await h.apply(snap('green', [inst('b1', 'blue', 1), inst('g2', 'green', 1)]))).action).toBe('runtime');
    expect(await sample(6)).toEqual({ g2: 6 });

    // a canary split between blue and green
    expect(
      (await h.apply(snap('blue', [inst('b1', 'blue', 1), inst('g2', 'green', 1)], { blue: 50, green: 50 }))).action,
    ).toBe('runtime');
    const split = await sample(20);
    expect(split.b1).toBeGreaterThanOrEqual(8);
    expect(split.g2).toBeGreaterThanOrEqual(8);

    expect(await servingWorkerPid(h.adminSocket)).toBe(worker);
    expect(await h.reloads()).toBe(reloadsBefore);
    // The installed file always describes what runs, so a later reload starts from the same servers.
    expect(readFileSync(h.configPath, 'utf8')).toBe(
      h.renderer.render(snap('blue', [inst('b1', 'blue', 1), inst('g2', 'green', 1)], { blue: 50, green: 50 })),
    );
    expect(h.logText).toContain('server slot(s) changed through the admin socket');
  }, 60_000);

  it('reloads on a structural change and serves the snapshot after it', async () => {
    const worker = await servingWorkerPid(h.adminSocket);
    const reloadsBefore = await h.reloads();
    const s = snap('green', [inst('b1', 'blue', 1), inst('g3', 'green', 1)], undefined, true);
    expect((await h.apply(s)).action).toBe('reloaded');
    expect(await h.reloads()).toBe(reloadsBefore + 1);
    expect(await servingWorkerPid(h.adminSocket)).not.toBe(worker);
    expect(await sample(4)).toEqual({ g3: 4 });
    expect(h.logText).toContain(
      'reloading instead of using the Runtime API: the config changed beyond server addresses and weights',
    );
    // and the Runtime API works again on top of the reloaded config
    const after = snap('blue', [inst('b1', 'blue', 1), inst('g3', 'green', 1)], undefined, true);
    expect((await h.apply(after)).action).toBe('runtime');
    expect(await sample(4)).toEqual({ b1: 4 });
  }, 60_000);

  it('falls back to a reload when the admin socket is not there', async () => {
    const fallbackDriver = new HaproxyDriver({
      configPath: h.configPath,
      pidFile: h.pidFile,
      adminSocket: h.adminSocket,
      logger: h.logger,
      metrics: h.metrics,
      binary: haproxyBinary(),
      runtime: new HaproxyRuntimeApi({
        socketPath: path.join(path.dirname(h.configPath), 'missing.sock'),
        logger: h.logger,
      }),
    });
    await fallbackDriver.start();
    try {
      const reloadsBefore = await h.reloads();
      const s = snap('green', [inst('b1', 'blue', 1), inst('g3', 'green', 1)], undefined, true);
      expect((await fallbackDriver.apply({ config: h.renderer.render(s), snapshot: s, reason: 'test' })).action).toBe(
        'reloaded',
      );
      expect(await h.reloads()).toBe(reloadsBefore + 1);
      expect(await sample(4)).toEqual({ g3: 4 });
      expect(h.logText).toContain('missing.sock does not exist');
    } finally {
      await fallbackDriver.close();
    }
  }, 60_000);

  it('grows a full slot block with dynamic servers, and a later reload keeps them', async () => {
    await h.apply(snap('green', [inst('b1', 'blue', 1), inst('g1', 'green', 1)]));
    const worker = await servingWorkerPid(h.adminSocket);
    const reloadsBefore = await h.reloads();
    const again = instance('web', 4, 'green', { address: '127.0.0.1', port: h.backends.g1!.port, id: 'web-g1-again' });
    const grown = [
      inst('b1', 'blue', 1),
      inst('g1', 'green', 1),
      inst('g2', 'green', 2),
      inst('g3', 'green', 3),
      again,
    ];
    // 4 green instances need a second block of 4 slots: green_5…green_8 in both h.backends.
    expect((await h.apply(snap('green', grown))).action).toBe('runtime');
    expect(h.logText).toContain('add server web_live/green_8');
    expect(await servingWorkerPid(h.adminSocket)).toBe(worker);
    expect(await h.reloads()).toBe(reloadsBefore);
    expect(Object.keys(await sample(16)).sort()).toEqual(['g1', 'g2', 'g3']);
    // A structural change reloads from the installed file, which lists the added servers.
    expect((await h.apply(snap('green', grown, undefined, true))).action).toBe('reloaded');
    expect(await servingWorkerPid(h.adminSocket)).not.toBe(worker);
    expect(Object.keys(await sample(16)).sort()).toEqual(['g1', 'g2', 'g3']);
    expect(readFileSync(h.configPath, 'utf8')).toContain('server green_8 0.0.0.0:0 disabled weight 0');
  }, 60_000);
});
