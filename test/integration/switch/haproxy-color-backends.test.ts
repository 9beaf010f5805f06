import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { Metrics } from '../../../src/http/metrics.js';
import { createLogger } from '../../../src/log/logger.js';
import { servingWorkerPid } from '../../../src/proxy/haproxy-admin-socket.js';
import { HaproxyDriver } from '../../../src/proxy/haproxy-driver.js';
import { HaproxyRuntimeApi } from '../../../src/proxy/haproxy-runtime-api.js';
import { EtaTemplateRenderer } from '../../../src/render/eta-template-renderer.js';
import { parseTemplateParams } from '../../../src/render/template-params.js';
import type { Instance, Snapshot } from '../../../src/snapshot/snapshot.js';
import { haproxyBinary } from '../../helpers/components.js';
import { instance, service } from '../../fixtures/golden/snapshots.js';
import { freePort, get, tempDir, TestBackend, TestProxy, waitFor } from '../proxy/proxy-fixtures.js';

const REPO = path.resolve(import.meta.dirname, '../../..');

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
    const tmp = tempDir('sy-colorbk-');
    const configPath = path.join(tmp.dir, 'haproxy.cfg');
    const pidFile = path.join(tmp.dir, 'haproxy.pid');
    const adminSocket = path.join(tmp.dir, 'admin.sock');
    const logStream = new PassThrough();
    let logText = '';
    logStream.on('data', (b: Buffer) => (logText += b.toString()));
    const logger = createLogger({ stream: logStream, json: true, level: 'debug' });
    const metrics = new Metrics({ defaultMetrics: false });
    const backends: Record<string, TestBackend> = {};
    let proxy: TestProxy | undefined;
    let driver: HaproxyDriver;
    let renderer: EtaTemplateRenderer;
    let mainPort: number;
    let previewPort: number;

    const inst = (name: string, color: string): Instance =>
      instance('web', 1, color, { address: '127.0.0.1', port: backends[name]!.port, id: `web-${name}` });
    const snap = (instances: Instance[], extraService = false): Snapshot => ({
      services: [
        ...(extraService ? [service('api', [inst('b1', 'blue')], 'blue', undefined)] : []),
        service('web', instances, 'blue', instances.some((i) => i.color === 'green') ? 'green' : undefined),
      ],
    });
    const apply = (s: Snapshot) => driver.apply({ config: renderer.render(s), snapshot: s, reason: 'test' });
    const reloads = async () =>
      (await metrics.reloads.get()).values.filter((v) => v.labels.outcome === 'ok').reduce((n, v) => n + v.value, 0);
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
      haproxyBinary();
      for (const name of ['b1', 'g1']) backends[name] = await TestBackend.start(name);
      mainPort = await freePort();
      previewPort = await freePort();
      renderer = new EtaTemplateRenderer({
        templatePath: path.join(REPO, 'templates/haproxy.cfg.eta'),
        params: parseTemplateParams({
          bind: '127.0.0.1',
          mainPort: String(mainPort),
          previewPort: String(previewPort),
          statsPort: '0',
          adminSocket,
          log: 'none',
          serverSlots,
        }),
        colors: ['blue', 'green'],
        logger,
      });
      driver = new HaproxyDriver({
        configPath,
        pidFile,
        adminSocket,
        logger,
        metrics,
        binary: haproxyBinary(),
        runtime: new HaproxyRuntimeApi({ socketPath: adminSocket, logger }),
      });
      await driver.start();
      const first = snap([inst('b1', 'blue')]);
      // No HAProxy runs yet: the file is installed and the reload owed; then HAProxy starts on it.
      await apply(first).catch(() => undefined);
      proxy = await TestProxy.start('haproxy', tmp.dir, configPath, pidFile, mainPort);
      await waitFor('HAProxy to serve blue', async () => (await get(mainPort)).body === 'b1', 15_000, 100);
      expect((await apply(first)).action).toBe('reloaded');
    }, 60_000);

    afterAll(async () => {
      await driver?.close();
      await proxy?.stop();
      await Promise.all(Object.values(backends).map((b) => b.close()));
      tmp.remove();
    });

    it('starts with green’s preview backend declared and empty: header previews route as usual, the preview port is 503', async () => {
      expect(readFileSync(configPath, 'utf8')).toMatch(/^backend web_c_green$/m);
      expect(await answers(mainPort, 4, previewGreen)).toEqual({ b1: 4 });
      expect(await answers(previewPort, 2)).toEqual({ '503 no healthy instance': 2 });
    });

    it('takes green’s first instance through the admin socket: preview by header and port reach it, no reload', async () => {
      const worker = await servingWorkerPid(adminSocket);
      const before = await reloads();
      expect((await apply(snap([inst('b1', 'blue'), inst('g1', 'green')]))).action).toBe('runtime');
      expect(await answers(mainPort, 6, previewGreen)).toEqual({ g1: 6 });
      expect(await answers(mainPort, 4)).toEqual({ b1: 4 });
      expect(await answers(previewPort, 4)).toEqual({ g1: 4 });
      expect(await servingWorkerPid(adminSocket)).toBe(worker);
      expect(await reloads()).toBe(before);
      expect(logText).not.toContain('reloading instead of using the Runtime API');
    });

    it('keeps green through a later reload, which serves exactly the passing instances', async () => {
      const worker = await servingWorkerPid(adminSocket);
      expect((await apply(snap([inst('b1', 'blue'), inst('g1', 'green')], true))).action).toBe('reloaded');
      expect(await servingWorkerPid(adminSocket)).not.toBe(worker);
      // A new worker counts no usable server for a moment (docs/templates.md): wait for its checks.
      await waitFor(
        'the new worker to preview green',
        async () => (await get(mainPort, 'web', previewGreen)).body === 'g1',
        15_000,
        100,
      );
      expect(await answers(mainPort, 6, previewGreen)).toEqual({ g1: 6 });
      expect(await answers(mainPort, 4)).toEqual({ b1: 4 });
      expect(await answers(previewPort, 4)).toEqual({ g1: 4 });
    }, 30_000);

    it(`lets green’s last instance go (${lastGoes}): the preview port is 503, header previews route as usual`, async () => {
      const worker = await servingWorkerPid(adminSocket);
      const before = await reloads();
      const blueOnly = snap([inst('b1', 'blue')], true);
      expect((await apply(blueOnly)).action).toBe(lastGoes);
      expect(await reloads()).toBe(lastGoes === 'runtime' ? before : before + 1);
      if (lastGoes === 'runtime') expect(await servingWorkerPid(adminSocket)).toBe(worker);
      expect(await answers(previewPort, 4)).toEqual({ '503 no healthy instance': 4 });
      expect(await answers(mainPort, 4, previewGreen)).toEqual({ b1: 4 });
      expect(await answers(mainPort, 4)).toEqual({ b1: 4 });
      // Green's backend is still declared, empty, so its next first instance needs no reload either.
      expect(readFileSync(configPath, 'utf8')).toMatch(/^backend web_c_green$/m);
      expect((await apply(snap([inst('b1', 'blue'), inst('g1', 'green')], true))).action).toBe('runtime');
      expect(await answers(mainPort, 4, previewGreen)).toEqual({ g1: 4 });
    }, 30_000);
  },
);
