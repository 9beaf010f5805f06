import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Daemon, closeOnly } from '../../../src/daemon.js';
import type { HealthReport } from '../../../src/http/health.js';
import { StatusServer } from '../../../src/http/status-server.js';
import { defaultTemplatePath } from '../../../src/render/render-options.js';
import type { RenderRole } from '../../../src/render/render-role.js';
import { haproxyBinary } from '../../helpers/components.js';
import { TestConsulAgent } from '../../helpers/consul-agent.js';
import { freePort, get, TestBackend, TestProxy, tempDir, waitFor } from '../proxy/proxy-fixtures.js';
import { LogCapture, register, startRole } from '../render/render-fixtures.js';

/**
 * /healthz of a daemon running the render role, as a load balancer's health check or the image's
 * HEALTHCHECK sees it: a real Consul agent (stopped with SIGSTOP, then killed), a real HAProxy, the
 * daemon's own HTTP server on a loopback port.
 */
describe('/healthz with the render role', () => {
  const tmp = tempDir('sy-healthz-render-');
  const configPath = path.join(tmp.dir, 'haproxy.cfg');
  const pidFile = path.join(tmp.dir, 'haproxy.pid');
  const rejectMarker = path.join(tmp.dir, 'reject');
  let agent: TestConsulAgent;
  let role: RenderRole;
  let daemon: Daemon;
  let server: StatusServer;
  let proxy: TestProxy | undefined;
  let backend: TestBackend;
  let mainPort: number;
  const logs = new LogCapture();

  async function healthz(): Promise<{ code: number; body: HealthReport }> {
    const a = server.address()!;
    const res = await fetch(`http://127.0.0.1:${a.port}/healthz`);
    return { code: res.status, body: (await res.json()) as HealthReport };
  }

  async function waitHealth(what: string, code: number, message: RegExp, timeoutMs: number): Promise<HealthReport> {
    let last: { code: number; body: HealthReport } | undefined;
    try {
      await waitFor(
        what,
        async () => {
          last = await healthz();
          return last.code === code && message.test(last.body.parts.render?.message ?? '');
        },
        timeoutMs,
        200,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; last /healthz: ${JSON.stringify(last)}`, { cause: err });
    }
    return last!.body;
  }

  beforeAll(async () => {
    haproxyBinary();
    agent = await TestConsulAgent.start();
    backend = await TestBackend.start('a');
    mainPort = await freePort();
    await register(agent, { id: 'web-a', port: backend.port, color: 'blue' });
    const started = startRole(
      agent,
      [
        '--proxy',
        'haproxy',
        '--proxy-binary',
        haproxyBinary(),
        '--template',
        defaultTemplatePath('haproxy'),
        '--config',
        configPath,
        '--proxy-pid-file',
        pidFile,
        '--check-command',
        `test ! -e ${rejectMarker} && ${haproxyBinary()} -c -q -f {}`,
        '--template-param',
        'bind=127.0.0.1,statsPort=0,log=none,previewPort=0',
        '--template-param',
        `mainPort=${mainPort}`,
        '--template-param',
        `adminSocket=${path.join(tmp.dir, 'admin.sock')}`,
        '--retry-delay',
        '1s',
      ],
      logs,
    );
    role = started.role;
    daemon = new Daemon({ logger: logs.logger });
    server = new StatusServer({
      host: '127.0.0.1',
      port: 0,
      metrics: started.metrics,
      health: daemon,
      logger: logs.logger,
    });
    daemon
      .add('http', server)
      .add(
        'consul',
        closeOnly(() => started.consul.close()),
      )
      .add('render', role);
    await daemon.start();
  }, 60_000);

  afterAll(async () => {
    await daemon?.close();
    await proxy?.stop();
    await backend?.close();
    await agent?.stop();
    tmp.remove();
  }, 30_000);

  it('is 503 until the render role has applied a config, then 200', async () => {
    // No HAProxy runs yet, so the first config is installed but its reload fails: nothing applied.
    await waitFor('the first config to be installed', () => existsSync(configPath), 10_000);
    const before = await healthz();
    expect(before.code).toBe(503);
    expect(before.body.parts.render).toMatchObject({ status: 'starting', phase: 'running' });
    expect(before.body.parts.render!.message).toMatch(/^no proxy config applied yet/);
    proxy = await TestProxy.start('haproxy', tmp.dir, configPath, pidFile, mainPort);
    const ok = await waitHealth('/healthz 200 once the owed reload is done', 200, /^config applied at /, 15_000);
    expect(ok.status).toBe('ok');
    expect((await get(mainPort)).body).toBe('a');
  }, 30_000);

  it('is 503 naming Consul while the agent hangs (SIGSTOP), and 200 again once it answers', async () => {
    agent.signal('SIGSTOP');
    try {
      const down = await waitHealth('/healthz 503 with Consul stopped', 503, /^cannot reach Consul/, 25_000);
      expect(down.status).toBe('unhealthy');
      expect(down.parts.render!.message).toMatch(/no answer within 3000 ms/);
      // The proxy keeps serving its last config meanwhile.
      expect((await get(mainPort)).body).toBe('a');
    } finally {
      agent.signal('SIGCONT');
    }
    await waitHealth('/healthz 200 after SIGCONT', 200, /^config applied at /, 15_000);
  }, 60_000);

  it('is 503 while the agent is down (killed), and 200 once it is back', async () => {
    await agent.stopProcess();
    const down = await waitHealth('/healthz 503 with Consul killed', 503, /^cannot reach Consul/, 25_000);
    expect(down.parts.render!.message).toMatch(/ECONNREFUSED/);
    await agent.restart();
    await register(agent, { id: 'web-a', port: backend.port, color: 'blue' });
    await waitHealth('/healthz 200 after the restart', 200, /^config applied at /, 30_000);
  }, 60_000);

  it('is 503 after the last 3 applies failed, and 200 once an apply succeeds', async () => {
    writeFileSync(rejectMarker, '');
    const other = await TestBackend.start('b');
    try {
      // A new service, not a new instance of web: a change of server lines alone goes through the
      // Runtime API with no checker run, so only a structural change meets the rejecting checker.
      await register(agent, { id: 'api-b', name: 'api', port: other.port, color: 'blue' });
      const bad = await waitHealth('/healthz 503 after failed applies', 503, /^the last 3 applies failed/, 20_000);
      expect(bad.parts.render!.message).toMatch(/rejected/);
      rmSync(rejectMarker);
      await waitHealth('/healthz 200 after a good apply', 200, /^config applied at /, 15_000);
      expect(readFileSync(configPath, 'utf8')).toContain(`127.0.0.1:${other.port}`);
    } finally {
      rmSync(rejectMarker, { force: true });
      await other.close();
    }
  }, 45_000);
});
