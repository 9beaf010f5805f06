import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { CheckerError } from '../../../src/errors.js';
import { Metrics } from '../../../src/http/metrics.js';
import { createLogger } from '../../../src/log/logger.js';
import { NginxDriver } from '../../../src/proxy/nginx-driver.js';
import { EtaTemplateRenderer } from '../../../src/render/eta-template-renderer.js';
import { parseTemplateParams } from '../../../src/render/template-params.js';
import type { Snapshot } from '../../../src/snapshot/snapshot.js';
import { nginxBinary } from '../../helpers/components.js';
import { instance, service } from '../../fixtures/golden/snapshots.js';
import { freePort, get, tempDir, TestBackend, TestProxy, waitFor } from './proxy-fixtures.js';

const REPO = path.resolve(import.meta.dirname, '../../..');

describe('NginxDriver with a real nginx', () => {
  const tmp = tempDir('sy-nginx-');
  const configPath = path.join(tmp.dir, 'nginx.conf');
  const pidFile = path.join(tmp.dir, 'nginx.pid');
  const logStream = new PassThrough();
  let logText = '';
  logStream.on('data', (b: Buffer) => (logText += b.toString()));
  const logger = createLogger({ stream: logStream, json: true });
  const metrics = new Metrics({ defaultMetrics: false });
  let blue: TestBackend;
  let green: TestBackend;
  let proxy: TestProxy | undefined;
  let driver: NginxDriver;
  let renderer: EtaTemplateRenderer;
  let mainPort: number;
  let previewPort: number;

  const snap = (live: string, idle: string | undefined): Snapshot => ({
    services: [
      service(
        'web',
        [
          instance('web', 1, 'blue', { address: '127.0.0.1', port: blue.port }),
          instance('web', 1, 'green', { address: '127.0.0.1', port: green.port }),
        ],
        live,
        idle,
      ),
    ],
  });
  const apply = (s: Snapshot, reason: string) => driver.apply({ config: renderer.render(s), snapshot: s, reason });

  beforeAll(async () => {
    blue = await TestBackend.start('blue');
    green = await TestBackend.start('green');
    mainPort = await freePort();
    previewPort = await freePort();
    const params = parseTemplateParams({
      bind: '127.0.0.1',
      mainPort: String(mainPort),
      previewPort: String(previewPort),
      pidFile,
      errorLog: path.join(tmp.dir, 'error.log'),
      accessLog: 'off',
      tempDir: tmp.dir,
      hardStopAfter: '5s',
    });
    renderer = new EtaTemplateRenderer({ templatePath: path.join(REPO, 'templates/nginx.conf.eta'), params, logger });
    driver = new NginxDriver({ configPath, pidFile, logger, metrics, binary: nginxBinary() });
    await driver.start();
    await expect(apply(snap('blue', 'green'), 'first')).rejects.toThrow(/nginx\.pid/);
    proxy = await TestProxy.start('nginx', tmp.dir, configPath, pidFile, mainPort);
  }, 30_000);

  afterAll(async () => {
    await driver?.close();
    await proxy?.stop();
    await blue?.close();
    await green?.close();
    tmp.remove();
  });

  it('serves live on the main port, idle on the preview port', async () => {
    expect(await get(mainPort)).toEqual({ status: 200, body: 'blue' });
    expect(await get(previewPort)).toEqual({ status: 200, body: 'green' });
  });

  it('a switch reloads nginx and the main port turns green', async () => {
    expect((await apply(snap('green', 'blue'), 'switch')).action).toBe('reloaded');
    await waitFor('green on the main port', async () => (await get(mainPort)).body === 'green', 5000);
    expect(await get(previewPort)).toEqual({ status: 200, body: 'blue' });
    expect((await metrics.reloads.get()).values.find((v) => v.labels.outcome === 'ok')?.value).toBeGreaterThan(0);
  });

  it('once a reload is reported, every new connection gets the new config (no old worker still accepting)', async () => {
    for (const [live, idle] of [
      ['blue', 'green'],
      ['green', 'blue'],
      ['blue', 'green'],
      ['green', 'blue'],
    ] as const) {
      expect((await apply(snap(live, idle), `switch to ${live}`)).action).toBe('reloaded');
      // No waiting: `switch --wait` trusts this moment, so the old color must already be gone.
      const bodies = await Promise.all(Array.from({ length: 20 }, () => get(mainPort)));
      expect(bodies.map((b) => b.body)).toEqual(Array.from({ length: 20 }, () => live));
    }
  });

  it('a rejected candidate is not installed and the old config keeps serving', async () => {
    const before = readFileSync(configPath, 'utf8');
    const err = await driver
      .apply({
        config: before.replace('keepalive 32;', 'keepalive_bogus 32;'),
        snapshot: snap('blue', 'green'),
        reason: 'bad',
      })
      .catch((e: unknown) => e);
    if (!(err instanceof CheckerError)) throw err;
    expect(err.output).toMatch(/unknown directive "keepalive_bogus"/);
    expect(readFileSync(configPath, 'utf8')).toBe(before);
    expect(logText).toMatch(/nginx rejected the candidate config/);
    expect(await get(mainPort)).toEqual({ status: 200, body: 'green' });
  });

  it('no passing instance → a clean 503', async () => {
    const s: Snapshot = {
      services: [
        service('web', [instance('web', 1, 'blue', { maintenance: true, port: blue.port })], 'blue', undefined),
      ],
    };
    await driver.apply({ config: renderer.render(s), snapshot: s, reason: 'maintenance' });
    await waitFor('503', async () => (await get(mainPort)).status === 503, 5000);
    expect(await get(mainPort)).toEqual({ status: 503, body: 'no healthy instance' });
  });

  it('reloads under keep-alive client traffic: counts failed requests (keepaliveTimeout 0 by default)', async () => {
    await apply(snap('blue', 'green'), 'load start');
    await waitFor('blue', async () => (await get(mainPort)).body === 'blue', 5000);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
    let ok = 0;
    let failed = 0;
    let running = true;
    const one = () =>
      new Promise<void>((resolve) => {
        const req = http.get(
          { host: '127.0.0.1', port: mainPort, path: '/', agent, headers: { host: 'web' } },
          (res) => {
            res.resume();
            res.on('end', () => {
              if (res.statusCode === 200) ok++;
              else failed++;
              resolve();
            });
          },
        );
        req.on('error', () => {
          failed++;
          resolve();
        });
      });
    const workers = Array.from({ length: 20 }, async () => {
      while (running) await one();
    });
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 200));
      expect((await apply(snap(i % 2 === 0 ? 'green' : 'blue', 'x'), `reload ${i}`)).action).toBe('reloaded');
    }
    running = false;
    await Promise.all(workers);
    agent.destroy();
    console.log(`nginx reload under keep-alive load: ${ok} requests, ${failed} failed`);
    expect(ok).toBeGreaterThan(500);
    expect(failed).toBe(0);
  }, 60_000);
});
