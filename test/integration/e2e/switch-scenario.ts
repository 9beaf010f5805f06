import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { expect } from '@jest/globals';
import { LoadProcess } from '../../../bench/lib/load-process.js';
import type { LoadSummary } from '../../../bench/lib/load.js';
import { haproxyBinary, nginxBinary, requireDocker } from '../../helpers/components.js';
import { TestConsulAgent } from '../../helpers/consul-agent.js';
import { TestContainers } from '../../helpers/docker.js';
import { freePort, waitFor } from '../../helpers/ports.js';
import { tempDir, TestProxy } from '../proxy/proxy-fixtures.js';
import { CLI, requireBuiltCli, switchyard } from '../switch/cli.js';

/**
 * The blue-green flow a user runs, end to end, under load from a separate process:
 * blue live → green deployed → `switchyard switch green` → blue removed → blue redeployed →
 * `switchyard rollback`. Real dockerd, Consul, proxy and `switchyard run` (register + render).
 * App containers use the host network on distinct ports, so the proxy reaches them on loopback
 * without docker-proxy in the path.
 */
export interface ScenarioResult {
  summary: LoadSummary;
  switchAt: { start: number; done: number };
  rollbackAt: { start: number; done: number };
  daemonLog: string;
  metrics: string;
}

export async function runSwitchScenario(
  kind: 'haproxy' | 'nginx',
  log: (line: string) => void,
): Promise<ScenarioResult> {
  requireBuiltCli();
  requireDocker();
  const binary = kind === 'haproxy' ? haproxyBinary() : nginxBinary();
  const tmp = tempDir(`sy-e2e-${kind}-`);
  const containers = new TestContainers();
  let agent: TestConsulAgent | undefined;
  let daemon: ChildProcess | undefined;
  let proxy: TestProxy | undefined;
  let load: LoadProcess | undefined;
  let daemonLog = '';
  try {
    agent = await TestConsulAgent.start();
    const mainPort = await freePort();
    const httpPort = await freePort();
    const configPath = path.join(tmp.dir, kind === 'haproxy' ? 'haproxy.cfg' : 'nginx.conf');
    const pidFile = path.join(tmp.dir, `${kind}.pid`);
    const env = { CONSUL_HTTP_ADDR: agent.address, SWITCHYARD_KV_PREFIX: 'e2e', SWITCHYARD_BY: 'e2e@test' };
    const params =
      kind === 'haproxy'
        ? [`adminSocket=${path.join(tmp.dir, 'admin.sock')}`]
        : [`pidFile=${pidFile}`, `tempDir=${tmp.dir}`];

    const app = async (color: string, n: number) => {
      const port = await freePort();
      const id = await containers.run([
        '--name',
        `sy-e2e-${kind}-${color}-${n}-${process.pid}`,
        '--network',
        'host',
        '--expose',
        String(port),
        '-e',
        `PORT=${port}`,
        '-e',
        `COLOR=${color}`,
        '-l',
        `color=${color}`,
        '-l',
        `SERVICE_${port}_NAME=app`,
        '-l',
        'SERVICE_8080_IGNORE=true',
        '-l',
        'SERVICE_CHECK_HTTP=/health',
        '-l',
        'SERVICE_CHECK_INTERVAL=1s',
      ]);
      return id;
    };
    const passing = async (color: string, want: number) =>
      waitFor(
        `${want} passing ${color} instances in Consul`,
        async () => {
          const r = await switchyard(['status', '--json', '--service', 'app'], env);
          const s = JSON.parse(r.stdout) as { services: { colors: { color: string; passing: number }[] }[] };
          return (s.services[0]?.colors.find((c) => c.color === color)?.passing ?? 0) >= want;
        },
        60_000,
        500,
      );

    const blue = [await app('blue', 1), await app('blue', 2)];

    daemon = spawn(
      process.execPath,
      [
        CLI,
        'run',
        '--node-id',
        'e2e',
        '--ip',
        '127.0.0.1',
        '--proxy',
        kind,
        '--proxy-binary',
        binary,
        '--config',
        configPath,
        '--proxy-pid-file',
        pidFile,
        '--template-param',
        `bind=127.0.0.1,statsPort=0,log=none,previewPort=0,mainPort=${mainPort}`,
        ...params.flatMap((p) => ['--template-param', p]),
        '--retry-delay',
        '1s',
        '--wait',
        '50ms:500ms',
        '--http-listen',
        `127.0.0.1:${httpPort}`,
        '--log-format',
        'text',
      ],
      { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const collect = (b: Buffer) => (daemonLog += b.toString());
    daemon.stdout!.on('data', collect);
    daemon.stderr!.on('data', collect);

    await passing('blue', 2);
    await waitFor('the first config', async () => (await import('node:fs')).existsSync(configPath), 30_000, 100);
    proxy = await TestProxy.start(kind, tmp.dir, configPath, pidFile, mainPort);
    await waitFor(
      'blue served through the proxy',
      async () => (await (await fetch(`http://127.0.0.1:${mainPort}/`)).text()).startsWith('blue'),
      30_000,
      200,
    );
    // The owed first reload (the proxy was not running yet) is paid after --retry-delay.
    await waitFor(
      '/healthz 200',
      async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).status === 200,
      30_000,
      200,
    );
    log(`${kind}: blue live on :${mainPort}, starting load`);

    load = new LoadProcess({
      url: `http://127.0.0.1:${mainPort}/`,
      durationMs: 240_000,
      keepAlive: 16,
      fresh: 4,
      // Paced above the 1,000 req/s the test asserts: a worker delayed by a slow answer does not catch up.
      rate: 1600,
    });
    await load.waitForOnly('blue', 10, 30_000);

    // Deploy green next to blue; it serves only on the preview port until the switch.
    const green = [await app('green', 1), await app('green', 2)];
    await passing('green', 2);
    await new Promise((r) => setTimeout(r, 1500));
    const switchStart = Date.now();
    const sw = await switchyard(['switch', 'green', '--reason', 'e2e release', '--wait', '--timeout', '30s'], env);
    const switchDone = Date.now();
    log(
      `${kind}: switch exit ${sw.code} in ${switchDone - switchStart} ms: ${sw.stdout.trim()} ${sw.stderr.trim().split('\n').pop()}`,
    );
    expect(sw.code).toBe(0);
    await load.waitForOnly('green', 10, 30_000);

    // Tear blue down (graceful stop: the registrar drains on `kill`), then redeploy it.
    for (const id of blue) await containers.docker('stop', '-t', '5', id);
    for (const id of blue) await containers.remove(id);
    await new Promise((r) => setTimeout(r, 3000));
    const blue2 = [await app('blue', 3), await app('blue', 4)];
    void blue2;
    await passing('blue', 2);
    await new Promise((r) => setTimeout(r, 1500));
    const rollbackStart = Date.now();
    const rb = await switchyard(['rollback', '--reason', 'e2e rollback', '--wait', '--timeout', '30s'], env);
    const rollbackDone = Date.now();
    log(`${kind}: rollback exit ${rb.code} in ${rollbackDone - rollbackStart} ms: ${rb.stdout.trim()}`);
    expect(rb.code).toBe(0);
    await load.waitForOnly('blue', 10, 30_000);
    for (const id of green) await containers.docker('stop', '-t', '5', id);
    await new Promise((r) => setTimeout(r, 2000));

    const summary = await load.stop();
    load = undefined;
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    return {
      summary,
      switchAt: { start: switchStart, done: switchDone },
      rollbackAt: { start: rollbackStart, done: rollbackDone },
      daemonLog,
      metrics,
    };
  } catch (err) {
    log(
      `${kind}: scenario failed; daemon log tail:\n${daemonLog.slice(-4000)}\nproxy log:\n${proxy?.logs.slice(-2000) ?? ''}`,
    );
    throw err;
  } finally {
    load?.kill();
    if (daemon && daemon.exitCode === null) {
      const exited = new Promise<void>((r) => daemon!.once('exit', () => r()));
      daemon.kill('SIGTERM');
      const t = setTimeout(() => daemon!.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    await proxy?.stop();
    await containers.removeAll();
    await agent?.stop();
    tmp.remove();
  }
}

/** The colors answered in each bucket, checked against when the switch and rollback happened. */
export function colorPhases(r: ScenarioResult): {
  beforeSwitch: Set<string>;
  afterSwitch: Set<string>;
  afterRollback: Set<string>;
} {
  const phase = (from: number, to: number) =>
    new Set(r.summary.timeline.filter((t) => t.t >= from && t.t + 100 <= to).flatMap((t) => Object.keys(t.colors)));
  return {
    beforeSwitch: phase(0, r.switchAt.start),
    afterSwitch: phase(r.switchAt.done + 1000, r.rollbackAt.start),
    afterRollback: phase(r.rollbackAt.done + 1000, Number.MAX_SAFE_INTEGER),
  };
}
