import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { CheckerError, TemplateError } from '../../../src/errors.js';
import { Metrics } from '../../../src/http/metrics.js';
import { createLogger } from '../../../src/log/logger.js';
import { HaproxyDriver } from '../../../src/proxy/haproxy-driver.js';
import { EtaTemplateRenderer } from '../../../src/render/eta-template-renderer.js';
import { parseTemplateParams } from '../../../src/render/template-params.js';
import type { Snapshot } from '../../../src/snapshot/snapshot.js';
import { haproxyBinary } from '../../helpers/components.js';
import { instance, service } from '../../fixtures/golden/snapshots.js';
import { freePort, get, tempDir, TestBackend, TestProxy, waitFor } from './proxy-fixtures.js';

const REPO = path.resolve(import.meta.dirname, '../../..');

describe('HaproxyDriver with a real HAProxy', () => {
  const tmp = tempDir('sy-haproxy-');
  const configPath = path.join(tmp.dir, 'haproxy.cfg');
  const pidFile = path.join(tmp.dir, 'haproxy.pid');
  const logStream = new PassThrough();
  let logText = '';
  logStream.on('data', (b: Buffer) => (logText += b.toString()));
  const logger = createLogger({ stream: logStream, json: true, level: 'debug' });
  const metrics = new Metrics({ defaultMetrics: false });
  let blue: TestBackend;
  let green: TestBackend;
  let proxy: TestProxy | undefined;
  let driver: HaproxyDriver;
  let renderer: EtaTemplateRenderer;
  let mainPort: number;
  let previewPort: number;

  const snap = (live: string, idle: string | undefined, weights?: Record<string, number>): Snapshot => ({
    services: [
      service(
        'web',
        [
          instance('web', 1, 'blue', { address: '127.0.0.1', port: blue.port }),
          instance('web', 1, 'green', { address: '127.0.0.1', port: green.port }),
        ],
        live,
        idle,
        { live, ...(weights ? { weights } : {}) },
      ),
    ],
  });

  beforeAll(async () => {
    haproxyBinary();
    blue = await TestBackend.start('blue');
    green = await TestBackend.start('green');
    mainPort = await freePort();
    previewPort = await freePort();
    const params = parseTemplateParams({
      bind: '127.0.0.1',
      mainPort: String(mainPort),
      previewPort: String(previewPort),
      statsPort: '0',
      adminSocket: path.join(tmp.dir, 'admin.sock'),
      log: 'none',
    });
    renderer = new EtaTemplateRenderer({ templatePath: path.join(REPO, 'templates/haproxy.cfg.eta'), params, logger });
    driver = new HaproxyDriver({
      configPath,
      pidFile,
      adminSocket: path.join(tmp.dir, 'admin.sock'),
      logger,
      metrics,
      binary: haproxyBinary(),
    });
    await driver.start();
    // The first install: no HAProxy runs yet, so the reload fails and is owed; then HAProxy starts on the file.
    const first = snap('blue', 'green');
    await expect(
      driver.apply({ config: renderer.render(first), snapshot: first, reason: 'test start' }),
    ).rejects.toThrow(/pid file/);
    proxy = await TestProxy.start('haproxy', tmp.dir, configPath, pidFile, mainPort);
  }, 30_000);

  afterAll(async () => {
    await driver?.close();
    await proxy?.stop();
    await blue?.close();
    await green?.close();
    tmp.remove();
  });

  it('serves the live color on the main port and the idle color on the preview port', async () => {
    expect(await get(mainPort)).toEqual({ status: 200, body: 'blue' });
    expect(await get(previewPort)).toEqual({ status: 200, body: 'green' });
    // Unknown Host: the default service.
    expect(await get(mainPort, 'elsewhere.example')).toEqual({ status: 200, body: 'blue' });
  });

  it('a reload owed from a failed one is retried on the next apply, even with the same config', async () => {
    const s = snap('blue', 'green');
    const out = await driver.apply({ config: renderer.render(s), snapshot: s, reason: 'retry' });
    expect(out.action).toBe('reloaded');
    expect(readFileSync(`${configPath}.last-good`, 'utf8')).toBe(renderer.render(s));
    expect((await driver.apply({ config: renderer.render(s), snapshot: s, reason: 'same' })).action).toBe('unchanged');
  });

  it('a switch is installed, keeps the file mode, reloads, and the main port turns green', async () => {
    chmodSync(configPath, 0o640);
    const s = snap('green', 'blue');
    const out = await driver.apply({ config: renderer.render(s), snapshot: s, reason: 'switch' });
    expect(out).toEqual({ action: 'reloaded', configPath });
    expect(statSync(configPath).mode & 0o777).toBe(0o640);
    await waitFor('green on the main port', async () => (await get(mainPort)).body === 'green', 5000);
    expect(await get(previewPort)).toEqual({ status: 200, body: 'blue' });
  });

  it('a candidate the checker rejects is not installed, the old config keeps serving, the log has the checker output', async () => {
    const before = readFileSync(configPath, 'utf8');
    const rejections = (await metrics.checkerRejections.get()).values[0]?.value ?? 0;
    const bad = before.replace('balance roundrobin', 'balance no-such-algorithm');
    const s = snap('green', 'blue');
    const err = await driver.apply({ config: bad, snapshot: s, reason: 'bad candidate' }).catch((e: unknown) => e);
    if (!(err instanceof CheckerError)) throw err;
    expect((err as CheckerError).output).toMatch(/balance only supports/);
    expect(readFileSync(configPath, 'utf8')).toBe(before);
    expect(logText).toMatch(/rejected the candidate config.*not installed/);
    expect((await metrics.checkerRejections.get()).values[0]?.value).toBe(rejections + 1);
    expect(await get(mainPort)).toEqual({ status: 200, body: 'green' });
    // No temp file is left next to the config.
    expect(readdir(tmp.dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('an invalid template edit throws TemplateError and the last good template keeps rendering', async () => {
    const own = path.join(tmp.dir, 'mine.cfg.eta');
    writeFileSync(own, readFileSync(path.join(REPO, 'templates/haproxy.cfg.eta'), 'utf8'));
    const mine = new EtaTemplateRenderer({ templatePath: own, params: parseTemplateParams({}), logger });
    const s = snap('blue', 'green');
    const good = mine.render(s);
    writeFileSync(own, 'global\n<% if (it.services.length { %>\n');
    expect(() => mine.reload()).toThrow(TemplateError);
    expect(() => mine.reload()).toThrow(/mine\.cfg\.eta line 2/);
    expect(mine.render(s)).toBe(good);
  });

  it('canary 50/50 splits the main port between both colors', async () => {
    const s = snap('blue', 'green', { blue: 50, green: 50 });
    await driver.apply({ config: renderer.render(s), snapshot: s, reason: 'canary' });
    const seen = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      const { body } = await get(mainPort);
      seen.set(body, (seen.get(body) ?? 0) + 1);
    }
    expect(seen.get('blue')).toBeGreaterThanOrEqual(15);
    expect(seen.get('green')).toBeGreaterThanOrEqual(15);
  });

  it('a service with no passing instance answers a clean 503', async () => {
    const s: Snapshot = {
      services: [
        service('web', [instance('web', 1, 'blue', { health: 'critical', port: blue.port })], 'blue', undefined),
      ],
    };
    await driver.apply({ config: renderer.render(s), snapshot: s, reason: 'all critical' });
    await waitFor('503 on the main port', async () => (await get(mainPort)).status === 503, 5000);
    expect(await get(mainPort)).toEqual({ status: 503, body: 'no healthy instance' });
  });

  it('loses no request across 10 reloads under keep-alive traffic', async () => {
    const s1 = snap('blue', 'green');
    const s2 = snap('green', 'blue');
    await driver.apply({ config: renderer.render(s1), snapshot: s1, reason: 'load start' });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
    let ok = 0;
    let failed = 0;
    const errors = new Map<string, number>();
    let running = true;
    const one = () =>
      new Promise<void>((resolve) => {
        const req = http.get(
          { host: '127.0.0.1', port: mainPort, path: '/', agent, headers: { host: 'web' } },
          (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => {
              if (res.statusCode === 200) ok++;
              else {
                failed++;
                const key = `HTTP ${res.statusCode} ${body.trim().slice(0, 60)}`;
                errors.set(key, (errors.get(key) ?? 0) + 1);
              }
              resolve();
            });
          },
        );
        req.on('error', (e) => {
          failed++;
          errors.set(e.message, (errors.get(e.message) ?? 0) + 1);
          resolve();
        });
      });
    const workers = Array.from({ length: 20 }, async () => {
      while (running) await one();
    });
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 200));
      const s = i % 2 === 0 ? s2 : s1;
      expect((await driver.apply({ config: renderer.render(s), snapshot: s, reason: `reload ${i}` })).action).toBe(
        'reloaded',
      );
    }
    await new Promise((r) => setTimeout(r, 300));
    running = false;
    await Promise.all(workers);
    agent.destroy();
    expect({ failed, errors: Object.fromEntries(errors) }).toEqual({ failed: 0, errors: {} });
    expect(ok).toBeGreaterThan(500);
    console.log(`reload under keep-alive load: ${ok} requests, ${failed} failed`);
  }, 60_000);
});

function readdir(dir: string): string[] {
  return readdirSync(dir);
}
import { readdirSync } from 'node:fs';
