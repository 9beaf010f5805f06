import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { LoadProcess } from '../../../bench/lib/load-process.js';
import { haproxyBinary, nginxBinary, requireDocker } from '../../helpers/components.js';
import { TestConsulAgent } from '../../helpers/consul-agent.js';
import { appArgs, TestContainers } from '../../helpers/docker.js';
import { freePort, waitFor } from '../../helpers/ports.js';
import { tempDir, TestProxy } from '../proxy/proxy-fixtures.js';
import { CLI, requireBuiltCli, switchyard } from '../switch/cli.js';

/**
 * The layout docs/migrating.md gives Registrator users, on every proxy path (HAProxy's Runtime API,
 * HAProxy reloading, nginx): app containers on Docker's bridge with published ports (`-p
 * 127.0.0.1::8080`, so docker-proxy is in the path) and an HTTP check, the proxy on the host with the
 * shipped template, `switchyard run --ip 127.0.0.1`, and 16 keep-alive clients that count a request
 * with no answer within 2 s as failed. The flow: deploy green, switch, stop and remove blue, redeploy
 * blue, rollback, canary 50, canary 0.
 */
const TAG = `sy-traffic-pub-${process.pid}`;
// A color label of its own: other Switchyard daemons on the shared dockerd (default `color`) skip these apps.
const COLOR_LABEL = `${TAG}-color`;
// And a service name of its own: a daemon registers any container with SERVICE_<port>_NAME, uncolored
// when it lacks its color label, so with a shared name another run of this test on the same dockerd
// puts uncolored instances into this run's service (a slot block of its own, which comes and goes).
const SERVICE = `${TAG}-app`;

interface ProxyPath {
  name: string;
  proxy: 'haproxy' | 'nginx';
  args: string[];
  /** Whether this path changes servers without reloading. */
  runtimeApi: boolean;
}

// Every path a user can pick: issue 10 asks for 0 failed requests on each of them in this layout.
const PATHS: ProxyPath[] = [
  { name: 'HAProxy, Runtime API (default)', proxy: 'haproxy', args: [], runtimeApi: true },
  { name: 'HAProxy, reload per change', proxy: 'haproxy', args: ['--no-haproxy-runtime-api'], runtimeApi: false },
  { name: 'nginx, reload per change', proxy: 'nginx', args: [], runtimeApi: false },
];

describe.each(PATHS)('published ports, docker-proxy and keep-alive clients through $name', (path_) => {
  it('drops no request across switch, teardown, redeploy, rollback and canary steps', async () => {
    requireBuiltCli();
    requireDocker();
    const tmp = tempDir('sy-published-');
    const containers = new TestContainers();
    let agent: TestConsulAgent | undefined;
    let daemon: ChildProcess | undefined;
    let proxy: TestProxy | undefined;
    let load: LoadProcess | undefined;
    let daemonLog = '';
    const log = (l: string) => process.stdout.write(`${l}\n`);
    try {
      agent = await TestConsulAgent.start();
      const mainPort = await freePort();
      const previewPort = await freePort();
      const httpPort = await freePort();
      const configPath = path.join(tmp.dir, path_.proxy === 'haproxy' ? 'haproxy.cfg' : 'nginx.conf');
      const pidFile = path.join(tmp.dir, 'haproxy.pid');
      const env = { CONSUL_HTTP_ADDR: agent.address, SWITCHYARD_KV_PREFIX: 'pub', SWITCHYARD_BY: 'pub@test' };

      const app = (color: string, n: number) =>
        containers.run([
          '--name',
          `${TAG}-${color}-${n}`,
          '-p',
          '127.0.0.1::8080',
          ...appArgs({ color, colorLabel: COLOR_LABEL, service: SERVICE, port: 8080 }),
        ]);
      const passing = (color: string, want: number) =>
        waitFor(
          `${want} passing ${color} instances in Consul`,
          async () => {
            const r = await switchyard(['status', '--json', '--service', SERVICE], env);
            const s = JSON.parse(r.stdout) as { services: { colors: { color: string; passing: number }[] }[] };
            return (s.services[0]?.colors.find((c) => c.color === color)?.passing ?? 0) === want;
          },
          60_000,
          300,
        );
      const control = async (args: string[]) => {
        const r = await switchyard([...args, '--service', SERVICE, '--reason', 'published-ports test'], env);
        log(`switchyard ${args.join(' ')}: exit ${r.code} ${r.stdout.trim()} ${r.stderr.trim().split('\n').pop()}`);
        expect(r.code).toBe(0);
      };
      const settle = () => new Promise((r) => setTimeout(r, 2500));
      const reloads = async () =>
        Number(
          new RegExp(`switchyard_reloads_total\\{proxy="${path_.proxy}",outcome="ok"\\} (\\d+)`).exec(
            await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text(),
          )?.[1] ?? 0,
        );

      const blue = [await app('blue', 1), await app('blue', 2)];
      daemon = spawn(
        process.execPath,
        [
          CLI,
          'run',
          '--node-id',
          'pub',
          '--ip',
          '127.0.0.1',
          '--color-label',
          COLOR_LABEL,
          '--config',
          configPath,
          '--proxy-pid-file',
          pidFile,
          '--template-param',
          `bind=127.0.0.1,statsPort=0,mainPort=${mainPort},previewPort=${previewPort}`,
          '--template-param',
          path_.proxy === 'haproxy'
            ? `adminSocket=${path.join(tmp.dir, 'admin.sock')}`
            : `pidFile=${pidFile},tempDir=${tmp.dir},errorLog=${path.join(tmp.dir, 'error.log')},accessLog=off`,
          '--proxy',
          path_.proxy,
          '--proxy-binary',
          path_.proxy === 'haproxy' ? haproxyBinary() : nginxBinary(),
          ...path_.args,
          '--retry-delay',
          '1s',
          '--http-listen',
          `127.0.0.1:${httpPort}`,
          '--log-format',
          'text',
          '--log-level',
          'debug',
        ],
        { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const collect = (b: Buffer) => (daemonLog += b.toString());
      daemon.stdout!.on('data', collect);
      daemon.stderr!.on('data', collect);

      await passing('blue', 2);
      await waitFor('the first config', () => existsSync(configPath), 30_000, 100);
      proxy = await TestProxy.start(path_.proxy, tmp.dir, configPath, pidFile, mainPort);
      proxy.logLimit = 5_000_000;
      await waitFor(
        '/healthz 200',
        async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).status === 200,
        30_000,
        200,
      );
      await control(['switch', 'blue']);

      load = new LoadProcess({
        url: `http://127.0.0.1:${mainPort}/`,
        durationMs: 240_000,
        keepAlive: 16,
        fresh: 0,
        rate: 1000,
        timeoutMs: 2_000,
      });
      await load.waitForOnly('blue', 10, 30_000);
      const reloadsAtStart = await reloads();

      const green = [await app('green', 1), await app('green', 2)];
      await passing('green', 2);
      await settle();
      await control(['switch', 'green', '--wait', '--timeout', '30s']);
      await load.waitForOnly('green', 10, 30_000);
      await settle();

      for (const id of blue) await containers.docker('stop', id);
      for (const id of blue) await containers.remove(id);
      await settle();
      await app('blue', 3);
      await app('blue', 4);
      await passing('blue', 2);
      await settle();

      await control(['rollback', '--wait', '--timeout', '30s']);
      await load.waitForOnly('blue', 10, 30_000);
      await settle();
      await control(['canary', 'green', '50', '--wait', '--timeout', '30s']);
      await settle();
      await control(['canary', 'green', '0', '--wait', '--timeout', '30s']);
      await settle();
      void green;

      const s = await load.stop();
      load = undefined;
      log(
        `published ports: ${s.requests} requests at ${s.rate} req/s, ${s.failed} failed ${JSON.stringify(s.failures)}, colors ${JSON.stringify(s.colors)}, latency ${JSON.stringify(s.latencyMs)}`,
      );
      const slow = proxy.logs
        .split('\n')
        .filter((l) => l.includes(' HTTP/1.1"') && (!/ 200 /.test(l) || /(^|[ /])\d{4,}\//.test(l)));
      log(`published ports: ${slow.length} request(s) with an error status or a timer of 1 s or more in HAProxy's log`);
      if (slow.length > 0)
        log(`HAProxy log lines with an error status or a slow timer:\n${slow.slice(0, 60).join('\n')}`);
      if (s.failed > 0) {
        log(
          `runtime commands sent:\n${daemonLog
            .split('\n')
            .filter((l) => /set (server|weight)|reload/.test(l))
            .join('\n')}`,
        );
      }
      expect(s.failureSamples).toEqual([]);
      expect(s.failed).toBe(0);
      expect(s.requests).toBeGreaterThan(10_000);
      const why = daemonLog.split('\n').filter((l) => /reloading instead of using the Runtime API/.test(l));
      log(`published ports: ${reloadsAtStart} reload(s) before the flow, ${await reloads()} after; ${why.join('\n')}`);
      if (path_.runtimeApi) {
        // Every step went through the admin socket, green's first instance too: its slots and its
        // preview backend are in the config from the start (--colors), empty. The only reload is the
        // one that loaded the first config into the HAProxy started after it, before the flow.
        expect(daemonLog).toContain('changed through the admin socket');
        expect(await reloads()).toBe(reloadsAtStart);
      } else {
        // The reload paths reload for the switches and rollouts (each step is one operator action).
        expect(await reloads()).toBeGreaterThan(reloadsAtStart);
      }
    } catch (err) {
      log(`daemon log tail:\n${daemonLog.slice(-6000)}\nHAProxy log tail:\n${proxy?.logs.slice(-3000) ?? ''}`);
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
  }, 240_000);
});
