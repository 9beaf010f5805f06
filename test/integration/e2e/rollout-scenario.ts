import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { expect } from '@jest/globals';
import { LoadProcess } from '../../../bench/lib/load-process.js';
import { mkdirSync } from 'node:fs';
import { dumpDom, screenshot } from '../../helpers/chromium.js';
import { haproxyBinary, nginxBinary, requireDocker } from '../../helpers/components.js';
import { TestConsulAgent } from '../../helpers/consul-agent.js';
import { appArgs, TestContainers } from '../../helpers/docker.js';
import { freePort, waitFor } from '../../helpers/ports.js';
import { tempDir, TestProxy } from '../proxy/proxy-fixtures.js';
import { CLI, requireBuiltCli, switchyard } from '../switch/cli.js';

/**
 * A rollout as a user runs it, through a real proxy: preview by header and cookie, a rollout that
 * completes under load with no failed request while a client sent to the canary stays on it
 * (sticky cookie), then a rollout aborted by the canary's real 5xx answers, after which the
 * canary's cookie pins nobody. Real dockerd, Consul, proxy and `switchyard run` (register, render
 * and the rollout executor). The app is the test image's busybox httpd with a CGI script at
 * /cgi-bin/app that answers 500 while /tmp/fail exists in its container.
 */
export async function runRolloutScenario(kind: 'haproxy' | 'nginx', log: (line: string) => void): Promise<void> {
  requireBuiltCli();
  requireDocker();
  const binary = kind === 'haproxy' ? haproxyBinary() : nginxBinary();
  const tmp = tempDir(`sy-rollouts-${kind}-`);
  const containers = new TestContainers();
  let agent: TestConsulAgent | undefined;
  let daemon: ChildProcess | undefined;
  let proxy: TestProxy | undefined;
  const loads: LoadProcess[] = [];
  let daemonLog = '';
  try {
    agent = await TestConsulAgent.start();
    const mainPort = await freePort();
    const httpPort = await freePort();
    const configPath = path.join(tmp.dir, kind === 'haproxy' ? 'haproxy.cfg' : 'nginx.conf');
    const pidFile = path.join(tmp.dir, `${kind}.pid`);
    const env = { CONSUL_HTTP_ADDR: agent.address, SWITCHYARD_KV_PREFIX: 'ro', SWITCHYARD_BY: 'e2e@test' };
    const params =
      kind === 'haproxy'
        ? [`adminSocket=${path.join(tmp.dir, 'admin.sock')}`]
        : [
            `pidFile=${pidFile}`,
            `tempDir=${tmp.dir}`,
            `accessLog=${path.join(tmp.dir, 'access.log')}`,
            `trafficLog=${path.join(tmp.dir, 'traffic.log')}`,
          ];
    const url = `http://127.0.0.1:${mainPort}`;
    // A color label of its own keeps other tests' containers (same dockerd) out of this Consul.
    const colorLabel = `sy-ro-${process.pid}-color`;

    const app = async (color: string) => {
      const port = await freePort();
      // The CGI script prints the color like the static page, or a 500 while /tmp/fail exists.
      const script = [
        'mkdir -p /www/cgi-bin',
        `printf '%s\\n' '#!/bin/sh' 'if [ -e /tmp/fail ]; then printf "Status: 500 Internal Server Error\\r\\nContent-Type: text/plain\\r\\n\\r\\nfail\\n"; else printf "Content-Type: text/plain\\r\\n\\r\\n${color} 1 cgi\\n"; fi' > /www/cgi-bin/app`,
        'busybox chmod +x /www/cgi-bin/app',
        `echo "${color} 1 $(hostname)" > /www/index.html`,
        'cp /www/index.html /www/health',
        `exec httpd -f -p ${port} -h /www`,
      ].join('; ');
      return containers.run(
        [
          '--name',
          `sy-rollouts-${kind}-${color}-${process.pid}`,
          '--network',
          'host',
          '--expose',
          String(port),
          ...appArgs({ color, colorLabel, service: 'app', port }),
        ],
        { cmd: ['sh', '-c', script] },
      );
    };
    const blue = await app('blue');
    await app('green');

    daemon = spawn(
      process.execPath,
      [
        CLI,
        'run',
        '--node-id',
        `e2e-${kind}`,
        '--color-label',
        colorLabel,
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
        '50ms:300ms',
        '--traffic-interval',
        '500ms',
        '--rollout-lock-delay',
        '1s',
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

    await waitFor('the first config', async () => existsSync(configPath), 30_000, 100);
    proxy = await TestProxy.start(kind, tmp.dir, configPath, pidFile, mainPort);
    const get = async (p = '/', headers: Record<string, string> = {}) => {
      const r = await fetch(`${url}${p}`, { headers });
      return { status: r.status, body: (await r.text()).split(' ')[0], cookie: r.headers.get('set-cookie') };
    };
    await waitFor(
      'blue live and green passing',
      async () => {
        const s = await switchyard(['status', '--json', '--service', 'app'], env);
        const st = JSON.parse(s.stdout) as {
          services: { live?: string; colors: { color: string; passing: number }[] }[];
        };
        return (
          st.services[0]?.live === 'blue' &&
          (st.services[0]?.colors.find((c) => c.color === 'green')?.passing ?? 0) > 0 &&
          (await get().catch(() => undefined))?.body === 'blue' &&
          (await get('/', { 'X-Switchyard-Color': 'green' }).catch(() => undefined))?.body === 'green'
        );
      },
      90_000,
      250,
    );

    // 1. Preview on the main port, by header and by cookie; bad or unknown values route as usual.
    expect((await get('/', { 'X-Switchyard-Color': 'green' })).body).toBe('green');
    expect((await get('/', { Cookie: 'a=b; switchyard-color=green' })).body).toBe('green');
    for (const bad of ['red', 'GREEN', 'green;drop', '../green', 'x'.repeat(200)]) {
      const r = await get('/', { 'X-Switchyard-Color': bad });
      expect(r).toMatchObject({ status: 200, body: 'blue' });
    }
    expect((await get('/', { Cookie: 'switchyard-color=green~nope' })).body).toBe('blue');
    expect((await get('/')).body).toBe('blue');
    log(`${kind}: preview by header and cookie ok`);

    // 2. A rollout of green under load: it completes with no failed request, and a client the
    // canary answered keeps going to green (sticky cookie) until it ends.
    const load = new LoadProcess({ url: `${url}/`, durationMs: 120_000, keepAlive: 4, fresh: 2, rate: 200 });
    loads.push(load);
    await load.waitForOnly('blue', 10, 30_000);
    const started = await switchyard(
      ['canary', 'green', '--steps', '30,60', '--interval', '8s', '--min-requests', '10', '--service', 'app'],
      env,
    );
    expect(started.code).toBe(0);
    let sticky: string | undefined;
    await waitFor(
      'a canary answer with the sticky cookie',
      async () => {
        const r = await get();
        if (r.body === 'green' && r.cookie) sticky = r.cookie.split(';')[0];
        return sticky !== undefined;
      },
      20_000,
      20,
    );
    expect(sticky).toMatch(/^switchyard-color=green~[a-z0-9]+$/);
    // Right after the reload that added the sticky rule, the new HAProxy worker counts no usable
    // server in a color backend for a moment, and routes as usual (never an error): let it settle.
    await waitFor('the sticky route', async () => (await get('/', { Cookie: sticky! })).body === 'green', 10_000, 50);
    const pinned = await Promise.all(Array.from({ length: 20 }, () => get('/', { Cookie: sticky! })));
    expect(pinned.map((r) => r.body)).toEqual(new Array(20).fill('green'));

    // The daemon's page, in a real headless Chromium, during the running rollout.
    const page = `http://127.0.0.1:${httpPort}/`;
    const dom = await dumpDom(page);
    expect(dom).toContain('data-testid="rollout-phase">running<');
    expect(dom).toMatch(/data-testid="rollout-step">step [12] of 2 \((30|60)% to green\)/);
    expect(dom).toMatch(/title="blue (70|40)%">blue (70|40)%<\/span><span [^>]*title="green (30|60)%">green (30|60)%</);
    expect(dom).toContain('rollout-start');
    mkdirSync('test-artifacts', { recursive: true });
    await screenshot(page, path.resolve(`test-artifacts/status-page-${kind}.png`));
    log(`${kind}: status page checked in Chromium; screenshot test-artifacts/status-page-${kind}.png`);
    const follow = await switchyard(['rollout', 'status', '--follow', '--service', 'app'], env, 60_000);
    log(`${kind}: rollout output:\n${follow.stdout}`);
    expect(follow.code).toBe(0);
    expect(follow.stdout).toContain('rollout of green (stable blue) completed');
    await load.waitForOnly('green', 10, 30_000);
    const summary = await load.stop();
    loads.splice(loads.indexOf(load), 1);
    log(
      `${kind}: ${summary.requests} requests during the rollout, ${summary.failed} failed ${JSON.stringify(summary.failures)}, colors ${JSON.stringify(summary.colors)}`,
    );
    expect(summary.failureSamples).toEqual([]);
    expect(summary.failed).toBe(0);
    expect(summary.colors.green).toBeGreaterThan(0);
    expect(summary.colors.blue).toBeGreaterThan(0);

    // 3. A rollout of blue (now idle) aborted by its real 5xx answers.
    await containers.docker('exec', blue, 'sh', '-c', 'echo > /tmp/fail');
    const cgi = new LoadProcess({ url: `${url}/cgi-bin/app`, durationMs: 60_000, keepAlive: 2, fresh: 2, rate: 100 });
    loads.push(cgi);
    const aborted = await switchyard(
      [
        'canary',
        'blue',
        '--steps',
        '50',
        '--interval',
        '1s',
        '--max-failures',
        '2',
        '--min-requests',
        '5',
        '--service',
        'app',
        '--follow',
      ],
      env,
      60_000,
    );
    log(`${kind}: aborted rollout output:\n${aborted.stdout}`);
    expect(aborted.code).toBe(1);
    expect(aborted.stdout).toMatch(/check at 50%: fail — success rate of blue \d+(\.\d+)?% < 99%/);
    expect(aborted.stdout).toContain('rollout of blue (stable green) aborted');
    const st = JSON.parse((await switchyard(['rollout', 'status', '--json', '--service', 'app'], env)).stdout) as {
      rollout: { id: string };
    };
    // After the abort, that rollout's cookie pins nobody: the live color answers.
    const token = st.rollout.id.replace(/^.*-/, '');
    expect((await get('/', { Cookie: `switchyard-color=blue~${token}` })).body).toBe('green');
    expect((await get()).body).toBe('green');
    const h = await switchyard(['status', '--service', 'app'], env);
    expect(h.stdout).toContain('live:     green');
  } catch (err) {
    log(
      `${kind}: rollout scenario failed; daemon log tail:\n${daemonLog.slice(-5000)}\nproxy log:\n${proxy?.logs.slice(-2000) ?? ''}`,
    );
    throw err;
  } finally {
    for (const l of loads) l.kill();
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
