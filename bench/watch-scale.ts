/**
 * The render role's watch at scale: a throw-away `consul agent -dev` holding --services services ×
 * --per-service instances (default 1,000 × 10), the render role in this process with a real HAProxy
 * (master-worker). The bulk is registered through Consul's catalog API on --per-service simulated
 * hosts (nodes `bench-host-N`, one instance of each service per host, each with a passing check):
 * registering 10,000 through one agent's API slowed to ~4 per second as that agent re-synced its
 * growing list (measured: 5,300 in 9.5 minutes). Service svc-0000 is registered through the
 * agent's API and routes to real loopback backends, so each round can time a change until HAProxy
 * serves it:
 *
 * - instance B of svc-0000 registered → a request through HAProxy answered by B;
 * - instance B deregistered → six requests in a row miss it;
 * - a health flip of an instance of another service (its check set critical, then passing again
 *   through the catalog API), for the Consul requests it costs.
 *
 * Prints change → served (p50/p99), Consul requests per change, the blocking queries and connections
 * the client holds, the template render time for the whole catalog, and RSS (this process and Consul).
 *
 *   npm run build && node dist/bench/watch-scale.js [--services 1000] [--per-service 10] [--rounds 20]
 *
 * Needs SWITCHYARD_CONSUL_BIN (scripts/provision.sh exports it) and haproxy. Traffic stays on
 * loopback; bounded (each wait gives up after 30 s, the whole run after 20 minutes); ends the
 * processes it started and removes its temp folders.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Command } from 'commander';
import { ConsulHttpClient } from '../src/consul/consul-http-client.js';
import { Metrics } from '../src/http/metrics.js';
import { createLogger, silentLogger } from '../src/log/logger.js';
import { EtaTemplateRenderer } from '../src/render/eta-template-renderer.js';
import { addRenderOptions } from '../src/cli/render-flags.js';
import { createRenderRole } from '../src/cli/compose.js';
import { defaultTemplatePath, type RenderOptions } from '../src/render/render-options.js';
import type { RenderRole } from '../src/render/render-role.js';
import { parseTemplateParams } from '../src/render/template-params.js';
import { DEFAULT_COLORS } from '../src/snapshot/build-snapshot.js';
import { fetchSnapshot } from '../src/watch/fetch-snapshot.js';
import { formatSummary, summarize } from './lib/stats.js';
import { TestConsulAgent } from '../test/helpers/consul-agent.js';
import { get } from '../test/helpers/http-get.js';
import { freePort, waitFor } from '../test/helpers/ports.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}
const SERVICES = arg('services', 1000);
const PER_SERVICE = Math.min(arg('per-service', 10), 200);
const ROUNDS = arg('rounds', 20);
const HAPROXY = process.env.SWITCHYARD_HAPROXY_BIN ?? '/usr/sbin/haproxy';
const CONSUL = process.env.SWITCHYARD_CONSUL_BIN;
const children: ChildProcess[] = [];
/** The throw-away Consul agent, for the give-up timer to end it too. */
let agent: TestConsulAgent | undefined;
/** How often a wait polls: the figures are latencies, so finer than the tests' 50 ms. */
const POLL_MS = 5;

/** One GET through the proxy on a new connection: "<status> <body>". */
async function answer(port: number, host: string): Promise<string> {
  const r = await get(port, host);
  return `${r.status} ${r.body}`;
}
const servers: http.Server[] = [];
const svc = (i: number) => `svc-${String(i).padStart(4, '0')}`;

async function backend(label: string, host = '127.0.0.1', port?: number): Promise<number> {
  const p = port ?? (await freePort());
  const server = http.createServer((_q, res) => res.end(`${label}\n`));
  await new Promise<void>((r) => server.listen(p, host, r));
  servers.push(server);
  return p;
}

/** One instance of `service` on simulated host n, with its check in `status`, through the catalog API. */
function catalogInstance(service: string, n: number, port: number, status: 'passing' | 'critical' = 'passing') {
  const id = `${service}-${n}`;
  return {
    Node: `bench-host-${n}`,
    Address: `127.0.0.${n + 1}`,
    SkipNodeUpdate: true,
    Service: { ID: id, Service: service, Address: `127.0.0.${n + 1}`, Port: port, Meta: { color: 'blue' } },
    Check: { CheckID: `${id}:check`, Name: 'check', ServiceID: id, Status: status },
  };
}

function instance(service: string, n: number, address: string, port: number) {
  const id = `${service}-${n}`;
  return {
    ID: id,
    Name: service,
    Address: address,
    Port: port,
    Meta: { color: 'blue' },
    Check: { CheckID: `${id}:ttl`, Name: 'ttl', TTL: '30m', Status: 'passing' },
  };
}

function rssMb(pid: number | undefined): string {
  if (!pid) return '?';
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? (Number(m[1]) / 1024).toFixed(0) : '?';
}

async function main(): Promise<void> {
  if (!CONSUL) throw new Error('SWITCHYARD_CONSUL_BIN is not set; eval "$(bash scripts/provision.sh)" first');
  // The test suite's dev agent: it waits until the agent leads, and ends only its own process.
  agent = await TestConsulAgent.start(`sy-bench-watch-${process.pid}`);
  const consulAgent = agent;
  const dir = mkdtempSync(path.join(tmpdir(), 'sy-bench-watch-'));
  let role: RenderRole | undefined;
  let consul: ConsulHttpClient | undefined;
  try {
    // Every instance n of every service answers on 127.0.0.(n+1):sink, so HAProxy's health checks pass.
    const sink = await freePort();
    for (let n = 0; n < PER_SERVICE; n++) await backend('sink', `127.0.0.${n + 1}`, sink);
    const a = await backend('a');
    const b = await backend('b');

    const t0 = performance.now();
    const queue: { service: string; n: number }[] = [];
    for (let s = 1; s < SERVICES; s++) for (let n = 0; n < PER_SERVICE; n++) queue.push({ service: svc(s), n });
    await consulAgent.put('/v1/agent/service/register', instance(svc(0), 0, '127.0.0.1', a));
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let j = queue.shift(); j; j = queue.shift())
          await consulAgent.put('/v1/catalog/register', catalogInstance(j.service, j.n, sink));
      }),
    );
    const instances = (SERVICES - 1) * PER_SERVICE + 1;
    console.log(
      `watch-scale: ${SERVICES} services, ${instances} instances registered (catalog API, ${PER_SERVICE} simulated hosts) in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${ROUNDS} rounds (Node ${process.version})`,
    );

    const mainPort = await freePort();
    const configPath = path.join(dir, 'haproxy.cfg');
    const pidFile = path.join(dir, 'haproxy.pid');
    const cmd = addRenderOptions(new Command('bench').exitOverride());
    cmd.parse(
      [
        '--config',
        configPath,
        '--proxy-pid-file',
        pidFile,
        '--proxy-binary',
        HAPROXY,
        '--template-param',
        `bind=127.0.0.1,mainPort=${mainPort},previewPort=0,statsPort=0,log=none,adminSocket=${dir}/admin.sock,checkInterval=30s`,
      ],
      { from: 'user' },
    );
    consul = new ConsulHttpClient({ address: consulAgent.url });
    const metrics = new Metrics({ defaultMetrics: false });
    role = createRenderRole(cmd.opts<RenderOptions>(), {
      consul,
      logger: process.env.BENCH_LOG
        ? createLogger({ level: 'debug', stream: process.stderr, json: true })
        : silentLogger(),
      metrics,
      kvPrefix: 'switchyard',
    });
    const t1 = performance.now();
    await role.start();
    await waitFor('the first config', () => existsSync(configPath), 120_000, POLL_MS);
    const haproxy = spawn(HAPROXY, ['-W', '-f', configPath, '-p', pidFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(haproxy);
    let haproxyLog = '';
    haproxy.stderr?.on('data', (c: Buffer) => (haproxyLog = (haproxyLog + c.toString()).slice(-4000)));
    let lastAnswer = '';
    await waitFor(
      'HAProxy serving a',
      async () => (lastAnswer = await answer(mainPort, svc(0))) === '200 a',
      180_000,
      POLL_MS,
    ).catch((err: unknown) => {
      throw new Error(`${(err as Error).message} (last answer "${lastAnswer}"); HAProxy said: ${haproxyLog}`);
    });
    console.log(`start → whole catalog served: ${((performance.now() - t1) / 1000).toFixed(1)} s`);
    await new Promise((r) => setTimeout(r, 3000)); // the owed first reload (retry delay) settles

    const added: number[] = [];
    const removed: number[] = [];
    const requests = { add: 0, remove: 0, flip: 0 };
    let maxBlocking = 0;
    let maxConnections = 0;
    const sample = () => {
      const u = consul!.usage();
      maxBlocking = Math.max(maxBlocking, u.blockingQueries);
      maxConnections = Math.max(maxConnections, u.connections);
    };
    const sampler = setInterval(sample, 20);
    for (let i = 0; i < ROUNDS; i++) {
      let before = consul.usage().requests;
      let t = performance.now();
      await consulAgent.put('/v1/agent/service/register', instance(svc(0), 1, '127.0.0.1', b));
      await waitFor('b to be served', async () => (await answer(mainPort, svc(0))) === '200 b', 30_000, POLL_MS);
      added.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 300));
      requests.add += consul.usage().requests - before;

      before = consul.usage().requests;
      t = performance.now();
      await consulAgent.put(`/v1/agent/service/deregister/${svc(0)}-1`);
      await waitFor(
        'b to be gone',
        async () => {
          for (let k = 0; k < 6; k++) if ((await answer(mainPort, svc(0))) !== '200 a') return false;
          return true;
        },
        30_000,
        POLL_MS,
      );
      removed.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 300));
      requests.remove += consul.usage().requests - before;

      // A health flip elsewhere: one instance's check critical, then passing; count what the watch asks.
      const [flipService, flipHost] = [svc(1 + (i % (SERVICES - 1))), i % PER_SERVICE];
      before = consul.usage().requests;
      await consulAgent.put('/v1/catalog/register', catalogInstance(flipService, flipHost, sink, 'critical'));
      await new Promise((r) => setTimeout(r, 500));
      await consulAgent.put('/v1/catalog/register', catalogInstance(flipService, flipHost, sink));
      await new Promise((r) => setTimeout(r, 500));
      requests.flip += consul.usage().requests - before;
    }
    clearInterval(sampler);
    sample();
    const usage = consul.usage();
    console.log(`instance added   → served:     ${formatSummary(summarize(added))}`);
    console.log(`instance removed → not served: ${formatSummary(summarize(removed))}`);
    console.log(
      `Consul requests per change: add ${(requests.add / ROUNDS).toFixed(1)}, remove ${(requests.remove / ROUNDS).toFixed(1)}, health flip ${(requests.flip / ROUNDS / 2).toFixed(1)} (all requests, blocking ones included)`,
    );
    console.log(
      `held on Consul: ${usage.blockingQueries} blocking queries now (max ${maxBlocking}), ${usage.connections} connections now (max ${maxConnections})`,
    );
    const reloads = (await metrics.reloads.get()).values.reduce(
      (n, v) => n + (v.labels.outcome === 'ok' ? v.value : 0),
      0,
    );
    const runtime = (await metrics.runtimeUpdates.get()).values.reduce((n, v) => n + v.value, 0);
    console.log(`applies: ${reloads} reloads, ${runtime} Runtime API updates`);

    // Render time of the whole catalog with the shipped template (what every change costs).
    const fetched = await fetchSnapshot(consul, 'switchyard', { colors: DEFAULT_COLORS });
    const renderer = new EtaTemplateRenderer({
      templatePath: defaultTemplatePath('haproxy'),
      params: parseTemplateParams({
        bind: '127.0.0.1',
        mainPort: '18080',
        previewPort: '18081',
        statsPort: '0',
        log: 'none',
        adminSocket: path.join(dir, 'admin.sock'),
      }),
      logger: silentLogger(),
    });
    const renders: number[] = [];
    let bytes = 0;
    for (let r = 0; r < 10; r++) {
      const t = performance.now();
      bytes = renderer.render(fetched.snapshot).length;
      renders.push(performance.now() - t);
    }
    console.log(
      `HAProxy template render of ${fetched.snapshot.services.length} services: ${formatSummary(summarize(renders))} (${(bytes / 1024).toFixed(0)} KB)`,
    );
    console.log(`RSS: Switchyard (this process) ${rssMb(process.pid)} MB, Consul agent ${rssMb(consulAgent.pid)} MB`);
  } finally {
    await role?.close();
    await consul?.close();
    for (const s of servers) s.close();
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await consulAgent.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const timer = setTimeout(() => {
  console.error('watch-scale: gave up after 20 minutes');
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  if (agent?.pid) process.kill(agent.pid, 'SIGKILL');
  process.exit(1);
}, 1_200_000);
timer.unref();
await main();
