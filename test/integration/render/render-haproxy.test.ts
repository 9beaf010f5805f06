import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ConsulHttpClient } from '../../../src/consul/consul-http-client.js';
import type { Metrics } from '../../../src/http/metrics.js';
import { defaultTemplatePath } from '../../../src/render/render-options.js';
import type { RenderRole } from '../../../src/render/render-role.js';
import { haproxyBinary } from '../../helpers/components.js';
import { TestConsulAgent } from '../../helpers/consul-agent.js';
import { freePort, get, TestBackend, TestProxy, tempDir, waitFor } from '../proxy/proxy-fixtures.js';
import { counterValue, deregister, register, startRole, type LogCapture } from './render-fixtures.js';

/**
 * The render role end to end: a real Consul agent, the role in this process, a real HAProxy in
 * master-worker mode reloaded through its pid file, real HTTP requests through it.
 */
describe('render role with HAProxy', () => {
  const tmp = tempDir('sy-render-haproxy-');
  const configPath = path.join(tmp.dir, 'haproxy.cfg');
  const pidFile = path.join(tmp.dir, 'haproxy.pid');
  const templatePath = path.join(tmp.dir, 'haproxy.cfg.eta');
  const rejectMarker = path.join(tmp.dir, 'reject');
  let agent: TestConsulAgent;
  let role: RenderRole;
  let consul: ConsulHttpClient;
  let metrics: Metrics;
  let proxy: TestProxy | undefined;
  let logs: LogCapture;
  const backends: Record<string, TestBackend> = {};
  let mainPort: number;

  /** The set of backend labels answering through the proxy over `n` requests. */
  async function served(n = 12): Promise<Set<string>> {
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const r = await get(mainPort);
      seen.add(r.status === 200 ? r.body : `HTTP ${r.status}`);
    }
    return seen;
  }

  /** Reloads plus Runtime API updates: each time the running proxy was changed. */
  async function applied(): Promise<number> {
    return (
      (await counterValue(metrics.reloads, { outcome: 'ok' })) +
      (await counterValue(metrics.runtimeUpdates, { outcome: 'ok' }))
    );
  }

  async function waitServed(label: string, timeoutMs = 5000): Promise<number> {
    const t0 = Date.now();
    await waitFor(`${label} to be served through HAProxy`, async () => (await served(4)).has(label), timeoutMs, 20);
    return Date.now() - t0;
  }

  beforeAll(async () => {
    haproxyBinary();
    agent = await TestConsulAgent.start();
    for (const label of ['a', 'b', 'c', 'd', 'e', 'f']) backends[label] = await TestBackend.start(label);
    mainPort = await freePort();
    writeFileSync(templatePath, readFileSync(defaultTemplatePath('haproxy'), 'utf8'));
    await register(agent, { id: 'web-a', port: backends.a!.port, color: 'blue' });
    ({ role, consul, metrics, logs } = startRole(agent, [
      '--proxy',
      'haproxy',
      '--proxy-binary',
      haproxyBinary(),
      '--template',
      templatePath,
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
      '--restart-grace',
      '20s',
    ]));
    await role.start();
    // No HAProxy runs yet: the first config is installed, its reload fails and is owed; then HAProxy starts on it.
    await waitFor('the first config to be installed', () => existsSync(configPath), 10_000);
    proxy = await TestProxy.start('haproxy', tmp.dir, configPath, pidFile, mainPort);
    await waitServed('a');
    // The owed reload is retried after --retry-delay and succeeds now that HAProxy runs.
    await waitFor('the owed reload', () => logs.has('info', 'haproxy config installed and reloaded'), 10_000);
  }, 60_000);

  afterAll(async () => {
    await role?.close();
    await consul?.close();
    await proxy?.stop();
    await Promise.all(Object.values(backends).map((b) => b.close()));
    await agent?.stop();
    tmp.remove();
  }, 30_000);

  it('serves a newly registered instance within a second', async () => {
    const before = await applied();
    await register(agent, { id: 'web-b', port: backends.b!.port, color: 'blue' });
    const elapsed = await waitServed('b', 3000);
    expect(elapsed).toBeLessThan(1000);
    expect(await served()).toEqual(new Set(['a', 'b']));
    // Counted once the new worker answers on the admin socket, or the Runtime API change is done.
    await waitFor('the change to be counted', async () => (await applied()) > before);
    // The line travels through winston's stream after the counter moved: wait for it, bounded.
    const line = `web: instance 127.0.0.1:${backends.b!.port} (blue) added`;
    await waitFor(`the log line "${line}"`, () => logs.has('info', line), 5_000);
  }, 15_000);

  it('stops sending traffic to a deregistered instance', async () => {
    await deregister(agent, 'web-a');
    await waitFor('a to leave the rotation', async () => !(await served(6)).has('a'), 5000, 20);
    expect(await served(20)).toEqual(new Set(['b']));
  }, 15_000);

  it('renders hostile names, tags and meta into a config that is still valid and serving', async () => {
    const hostile = ['new\nline', 'semi;colon', 'brace{', 'brace}', 'hash#', 'sp ace', 'x'.repeat(1000)];
    await register(agent, {
      id: 'web-evil;{x}#y',
      port: backends.c!.port,
      color: 'blue',
      tags: ['blue', ...hostile],
      meta: { note: 'a;b{c}#d\n  server evil 6.6.6.6:80', long: 'y'.repeat(500) },
    });
    await register(agent, {
      id: 'evil-svc',
      name: 'evil;svc{ #x',
      port: backends.d!.port,
      color: 'blue',
      tags: ['blue', ...hostile],
    });
    await waitServed('c');
    const config = readFileSync(configPath, 'utf8');
    expect(() => execFileSync(haproxyBinary(), ['-c', '-q', '-f', configPath], { stdio: 'pipe' })).not.toThrow();
    expect(config).not.toMatch(/6\.6\.6\.6|1\.2\.3\.4/);
    expect(config).not.toContain('x'.repeat(1000));
    expect(await served()).toEqual(new Set(['b', 'c']));
    await deregister(agent, 'web-evil;{x}#y');
    await deregister(agent, 'evil-svc');
    await waitFor('c to leave the rotation', async () => !(await served(6)).has('c'), 5000, 20);
  }, 20_000);

  it('keeps the last good template and keeps serving when an edited template does not compile', async () => {
    const good = readFileSync(templatePath, 'utf8');
    // A JavaScript syntax error inside <% %>: eta's own error carries the whole compiled function.
    writeFileSync(templatePath, `${good}\n<% if ( { %>broken\n`);
    const brokenLine = good.split('\n').length + 1;
    await waitFor('the template watcher to report the broken edit', () =>
      logs.has('error', 'still rendering with the last good template'),
    );
    const line = logs.lines.find((l) => l.message.includes('still rendering with the last good template'))!;
    // One line naming file and line, as `render --once` prints it; no compiled source.
    expect(line.message.startsWith(`template ${templatePath} line ${brokenLine}: `)).toBe(true);
    expect(line.message).not.toContain('\n');
    expect(line.message).not.toContain('__eta');
    await register(agent, { id: 'web-d', port: backends.d!.port, color: 'blue' });
    await waitServed('d');
    expect(await served()).toEqual(new Set(['b', 'd']));
    const recompiled = () => logs.lines.filter((l) => l.message.includes('rendering again')).length;
    const before = recompiled();
    writeFileSync(templatePath, good);
    await waitFor('the template watcher to take the good template back', () => recompiled() > before);
  }, 15_000);

  it('does not install a config the checker rejects: the old one keeps serving, and it is retried', async () => {
    const installed = readFileSync(configPath, 'utf8');
    writeFileSync(rejectMarker, '');
    // A structural change (the backend's check path), so the checker runs: a change the Runtime API
    // applies alone is valid by construction and skips it.
    await register(agent, { id: 'web-e', port: backends.e!.port, color: 'blue', meta: { health_path: '/e' } });
    await waitFor('the rejection', () => logs.has('error', 'rejected'), 5000);
    expect(readFileSync(configPath, 'utf8')).toBe(installed);
    expect(await served()).toEqual(new Set(['b', 'd']));
    rmSync(rejectMarker);
    // No new change: the retry after --retry-delay installs it.
    await waitServed('e', 5000);
    // Back to the default check path, so the next test starts from the catalog it re-registers.
    await register(agent, { id: 'web-e', port: backends.e!.port, color: 'blue' });
    await waitFor('the default check path', () => readFileSync(configPath, 'utf8').includes('option httpchk GET /\n'));
    await role.pipeline.idle();
  }, 20_000);

  it('keeps the config through a Consul restart that loses every registration, then follows the new catalog', async () => {
    // The catalog the earlier tests leave (registering again changes nothing then), so this test
    // also runs alone (-t): the configs sampled below must all contain b.
    for (const id of ['b', 'd', 'e'])
      await register(agent, { id: `web-${id}`, port: backends[id]!.port, color: 'blue' });
    for (const id of ['b', 'd', 'e']) await waitServed(id);
    await role.pipeline.idle();
    const servedBefore = await served();
    const configs = new Set<string>();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        configs.add(readFileSync(configPath, 'utf8'));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await agent.stopProcess();
    await new Promise((r) => setTimeout(r, 3000));
    expect(await served()).toEqual(servedBefore);
    await agent.restart();
    // Consul is back empty; within the grace period the registrars re-register.
    await new Promise((r) => setTimeout(r, 2000));
    expect(await served()).toEqual(servedBefore);
    for (const id of ['b', 'd', 'e'])
      await register(agent, { id: `web-${id}`, port: backends[id]!.port, color: 'blue' });
    await register(agent, { id: 'web-f', port: backends.f!.port, color: 'blue' });
    await waitServed('f', 20_000);
    sampling = false;
    await sampler;
    expect(await served(16)).toEqual(new Set(['b', 'd', 'e', 'f']));
    // Every config installed during the outage still had the instances in it.
    for (const c of configs) expect(c).toContain(`127.0.0.1:${backends.b!.port}`);
    expect(logs.has('warn', 'Keeping the last snapshot until Consul answers every watch again')).toBe(true);
  }, 60_000);

  it('adds a burst of 50 instances without a reload (dynamic servers)', async () => {
    await role.pipeline.idle();
    await new Promise((r) => setTimeout(r, 1500));
    const before = await applied();
    const reloadsBefore = await counterValue(metrics.reloads, { outcome: 'ok' });
    for (let i = 0; i < 50; i++) await register(agent, { id: `web-burst-${i}`, port: backends.b!.port, color: 'blue' });
    await waitFor(
      'the burst to be rendered',
      () => readFileSync(configPath, 'utf8').split(`127.0.0.1:${backends.b!.port}`).length - 1 >= 51,
      10_000,
    );
    await new Promise((r) => setTimeout(r, 1500));
    // Runtime API changes apply at once (no --wait), one at a time, each with the newest snapshot;
    // slot blocks that fill up grow by `add server`, so nothing reloads.
    expect((await applied()) - before).toBeGreaterThanOrEqual(1);
    expect((await counterValue(metrics.reloads, { outcome: 'ok' })) - reloadsBefore).toBe(0);
    expect(await served()).toContain('b');
  }, 30_000);
});
