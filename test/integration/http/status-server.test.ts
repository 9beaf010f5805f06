import { afterEach, describe, expect, it } from '@jest/globals';
import net from 'node:net';
import { ConfigError } from '../../../src/errors.js';
import type { HealthSource, PartState } from '../../../src/http/health.js';
import { Metrics } from '../../../src/http/metrics.js';
import { StatusServer } from '../../../src/http/status-server.js';
import { silentLogger } from '../../../src/log/logger.js';

/** The /healthz and /metrics server on a real loopback socket. */
describe('StatusServer', () => {
  const servers: StatusServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  function serve(parts: PartState[], metrics = new Metrics({ defaultMetrics: false })) {
    const health: HealthSource = { partStates: () => parts };
    const s = new StatusServer({ host: '127.0.0.1', port: 0, metrics, health, logger: silentLogger() });
    servers.push(s);
    return s;
  }
  const url = (s: StatusServer, path: string) => `http://127.0.0.1:${s.address()!.port}${path}`;

  it('answers /healthz 200 with each part, then 503 with the reason once a part is unhealthy', async () => {
    let renderHealthy = true;
    const render = {
      health: () =>
        renderHealthy ? { status: 'ok' as const } : { status: 'unhealthy' as const, message: 'no config applied yet' },
    };
    const s = serve([
      { name: 'consul-client', part: {}, phase: 'running' },
      { name: 'render', part: render, phase: 'running' },
    ]);
    await s.start();
    const ok = await fetch(url(s, '/healthz'));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({
      status: 'ok',
      parts: { 'consul-client': { status: 'ok', phase: 'running' }, render: { status: 'ok', phase: 'running' } },
    });
    renderHealthy = false;
    const bad = await fetch(url(s, '/healthz'));
    expect(bad.status).toBe(503);
    expect(((await bad.json()) as { parts: Record<string, { message?: string }> }).parts.render?.message).toBe(
      'no config applied yet',
    );
  });

  it('serves the read-only status page and its data; refuses anything but GET and HEAD', async () => {
    const overview = { at: '2030-01-01T00:00:00.000Z', services: [{ service: 'app', live: '<b>x</b>' }] };
    const s = new StatusServer({
      host: '127.0.0.1',
      port: 0,
      metrics: new Metrics({ defaultMetrics: false }),
      health: { partStates: () => [] },
      logger: silentLogger(),
      overview: () => Promise.resolve(overview),
    });
    servers.push(s);
    await s.start();
    const page = await fetch(url(s, '/'));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).toContain("fetch('api/overview'");
    // Nothing from outside: no external script, style or font.
    expect(html).not.toMatch(/(src|href)="https?:/);
    expect(await (await fetch(url(s, '/api/overview'))).json()).toEqual(overview);
    expect((await fetch(url(s, '/'), { method: 'POST' })).status).toBe(405);
  });

  it('serves the Prometheus registry on /metrics', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    metrics.switches.inc({ action: 'switch' });
    metrics.reloads.inc({ proxy: 'haproxy', outcome: 'ok' }, 3);
    const s = serve([], metrics);
    await s.start();
    const res = await fetch(url(s, '/metrics'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toContain('switchyard_switches_total{action="switch"} 1');
    expect(text).toContain('switchyard_reloads_total{proxy="haproxy",outcome="ok"} 3');
    expect((await fetch(url(s, '/nope'))).status).toBe(404);
    expect((await fetch(url(s, '/healthz'), { method: 'POST' })).status).toBe(405);
  });

  it('fails to start with a ConfigError naming the address when the port is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const s = new StatusServer({
        host: '127.0.0.1',
        port,
        metrics: new Metrics({ defaultMetrics: false }),
        health: { partStates: () => [] },
        logger: silentLogger(),
      });
      servers.push(s);
      const err = await s.start().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toBe(
        `cannot serve /healthz and /metrics on 127.0.0.1:${port}: the address is already in use (--http-listen)`,
      );
    } finally {
      blocker.close();
    }
  });

  it('closes idempotently, even before start finished, and cuts kept-alive connections', async () => {
    const s = serve([]);
    const starting = s.start();
    const closing = Promise.all([s.close(), s.close()]);
    await starting;
    await closing;
    expect(s.address()).toBeUndefined();

    const t = serve([]);
    await t.start();
    await fetch(url(t, '/healthz')); // leaves a keep-alive socket open
    const started = Date.now();
    await t.close();
    expect(Date.now() - started).toBeLessThan(2_500);
  });
});
