import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { servingWorkerPid } from '../../../src/proxy/haproxy-admin-socket.js';
import type { Instance, Snapshot } from '../../../src/snapshot/snapshot.js';
import { instance, service } from '../../fixtures/golden/snapshots.js';
import { get, waitFor } from '../proxy/proxy-fixtures.js';
import { DrivenHaproxy } from './driven-haproxy.js';

/**
 * A color's first instance and its last one, through a real HAProxy on the shipped template with the
 * configured colors blue and green (`--colors`): green's slots and its preview backend are in the
 * config before green has an instance, so both go through the admin socket with no reload; preview by
 * header reaches green while it has a server, the preview port answers 503 once it has none, and a
 * reload afterwards serves exactly the same.
 */
describe.each([
  { serverSlots: '4', lastGoes: 'runtime' },
  // With exact slots an empty color's backend has no server: the first one is added (`add server`);
  // the last one's slot goes, which `del server` cannot be trusted with, so that is a reload.
  { serverSlots: '0', lastGoes: 'reloaded' },
])(
  'a color’s first and last instance through a real HAProxy (serverSlots $serverSlots)',
  ({ serverSlots, lastGoes }) => {
    let h: DrivenHaproxy;
    const inst = (name: string, color: string): Instance =>
      instance('web', 1, color, { address: '127.0.0.1', port: h.backends[name]!.port, id: `web-${name}` });
    const snap = (instances: Instance[], extraService = false): Snapshot => ({
      services: [
        ...(extraService ? [service('api', [inst('b1', 'blue')], 'blue', undefined)] : []),
        service('web', instances, 'blue', instances.some((i) => i.color === 'green') ? 'green' : undefined),
      ],
    });
    /** What answers, over `n` new connections: the backend's name, or the status. */
    const answers = async (port: number, n: number, headers: Record<string, string> = {}) => {
      const seen: Record<string, number> = {};
      for (let i = 0; i < n; i++) {
        const r = await get(port, 'web', headers);
        const key = r.status === 200 ? r.body : `${r.status} ${r.body}`;
        seen[key] = (seen[key] ?? 0) + 1;
      }
      return seen;
    };
    const previewGreen = { 'X-Switchyard-Color': 'green' };

    beforeAll(async () => {
      h = new DrivenHaproxy({
        prefix: 'sy-colorbk-',
        backends: ['b1', 'g1'],
        params: { serverSlots },
        colors: ['blue', 'green'],
        first: () => snap([inst('b1', 'blue')]),
        expectFirst: 'b1',
      });
      await h.start();
    }, 60_000);

    afterAll(() => h?.close());

    it('starts with green’s preview backend declared and empty: header previews route as usual, the preview port is 503', async () => {
      expect(readFileSync(h.configPath, 'utf8')).toMatch(/^backend web_c_green$/m);
      expect(await answers(h.mainPort, 4, previewGreen)).toEqual({ b1: 4 });
      expect(await answers(h.previewPort, 2)).toEqual({ '503 no healthy instance': 2 });
    });

    it('takes green’s first instance through the admin socket: preview by header and port reach it, no reload', async () => {
      const worker = await servingWorkerPid(h.adminSocket);
      const before = await h.reloads();
      expect((await h.apply(snap([inst('b1', 'blue'), inst('g1', 'green')]))).action).toBe('runtime');
      expect(await answers(h.mainPort, 6, previewGreen)).toEqual({ g1: 6 });
      expect(await answers(h.mainPort, 4)).toEqual({ b1: 4 });
      expect(await answers(h.previewPort, 4)).toEqual({ g1: 4 });
      expect(await servingWorkerPid(h.adminSocket)).toBe(worker);
      expect(await h.reloads()).toBe(before);
      expect(h.logText).not.toContain('reloading instead of using the Runtime API');
    });

    it('keeps green through a later reload, which serves exactly the passing instances', async () => {
      const worker = await servingWorkerPid(h.adminSocket);
      expect((await h.apply(snap([inst('b1', 'blue'), inst('g1', 'green')], true))).action).toBe('reloaded');
      expect(await servingWorkerPid(h.adminSocket)).not.toBe(worker);
      // A new worker counts no usable server for a moment (docs/templates.md): wait for its checks.
      await waitFor(
        'the new worker to preview green',
        async () => (await get(h.mainPort, 'web', previewGreen)).body === 'g1',
        15_000,
        100,
      );
      expect(await answers(h.mainPort, 6, previewGreen)).toEqual({ g1: 6 });
      expect(await answers(h.mainPort, 4)).toEqual({ b1: 4 });
      expect(await answers(h.previewPort, 4)).toEqual({ g1: 4 });
    }, 30_000);

    it(`lets green’s last instance go (${lastGoes}): the preview port is 503, header previews route as usual`, async () => {
      const worker = await servingWorkerPid(h.adminSocket);
      const before = await h.reloads();
      const blueOnly = snap([inst('b1', 'blue')], true);
      expect((await h.apply(blueOnly)).action).toBe(lastGoes);
      expect(await h.reloads()).toBe(lastGoes === 'runtime' ? before : before + 1);
      if (lastGoes === 'runtime') expect(await servingWorkerPid(h.adminSocket)).toBe(worker);
      expect(await answers(h.previewPort, 4)).toEqual({ '503 no healthy instance': 4 });
      expect(await answers(h.mainPort, 4, previewGreen)).toEqual({ b1: 4 });
      expect(await answers(h.mainPort, 4)).toEqual({ b1: 4 });
      // Green's backend is still declared, empty, so its next first instance needs no reload either.
      expect(readFileSync(h.configPath, 'utf8')).toMatch(/^backend web_c_green$/m);
      expect((await h.apply(snap([inst('b1', 'blue'), inst('g1', 'green')], true))).action).toBe('runtime');
      expect(await answers(h.mainPort, 4, previewGreen)).toEqual({ g1: 4 });
    }, 30_000);
  },
);
