/**
 * Consul change → proxy serving it: a throw-away `consul agent -dev`, the render role in this
 * process (default options: wait 250ms:1s), a real HAProxy (master-worker) and two loopback HTTP
 * backends. Each round registers instance B through Consul's HTTP API and times until a request
 * through HAProxy is answered by B; then deregisters it and times until B gets no more requests.
 * Runs once with the Runtime API (the default: server changes without a reload) and once with
 * --no-haproxy-runtime-api (every change is a reload).
 *
 *   npm run build && node dist/bench/render-latency.js [--rounds 20]
 *
 * Needs SWITCHYARD_CONSUL_BIN (scripts/provision.sh exports it) and haproxy. Bounded (each wait times
 * out after 10 s); ends the processes it started and removes its temp folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { ConsulHttpClient } from '../src/consul/consul-http-client.js';
import { Metrics } from '../src/http/metrics.js';
import { createLogger, silentLogger } from '../src/log/logger.js';
import { addRenderOptions } from '../src/cli/render-flags.js';
import type { RenderOptions } from '../src/render/render-options.js';
import { createRenderRole } from '../src/cli/compose.js';
import { formatSummary, summarize } from './lib/stats.js';
import { TestConsulAgent } from '../test/helpers/consul-agent.js';
import { freePort, waitFor } from '../test/helpers/ports.js';
import { get } from '../test/helpers/http-get.js';

const ROUNDS = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 20;
const HAPROXY = process.env.SWITCHYARD_HAPROXY_BIN ?? '/usr/sbin/haproxy';
const CONSUL = process.env.SWITCHYARD_CONSUL_BIN;
const children: ChildProcess[] = [];
/** The throw-away Consul agent's process, for the give-up timer to end it too. */
let agentPid: number | undefined;
/** How often a wait polls: the figures are latencies, so finer than the tests' 50 ms. */
const POLL_MS = 5;

async function backend(label: string): Promise<{ port: number; server: http.Server }> {
  const port = await freePort();
  const server = http.createServer((_q, res) => res.end(`${label}\n`));
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { port, server };
}

/** One GET through the proxy on a new connection: "<status> <body>". */
async function answer(port: number, host = 'web'): Promise<string> {
  const r = await get(port, host);
  return `${r.status} ${r.body}`;
}

async function scenario(runtimeApi: boolean, agent: TestConsulAgent, a: number, b: number): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sy-bench-latency-'));
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
      `bind=127.0.0.1,mainPort=${mainPort},previewPort=0,statsPort=0,log=none,adminSocket=${dir}/admin.sock`,
      ...(runtimeApi ? [] : ['--no-haproxy-runtime-api']),
    ],
    { from: 'user' },
  );
  const consul = new ConsulHttpClient({ address: agent.url });
  const metrics = new Metrics({ defaultMetrics: false });
  const role = createRenderRole(cmd.opts<RenderOptions>(), {
    consul,
    logger: process.env.BENCH_LOG
      ? createLogger({ level: 'debug', stream: process.stderr, json: true })
      : silentLogger(),
    metrics,
    kvPrefix: 'switchyard',
  });
  let haproxy: ChildProcess | undefined;
  const added: number[] = [];
  const removed: number[] = [];
  try {
    await role.start();
    await waitFor('the first config', () => existsSync(configPath), 10_000, POLL_MS);
    haproxy = spawn(HAPROXY, ['-W', '-f', configPath, '-p', pidFile], { stdio: 'ignore' });
    children.push(haproxy);
    await waitFor('HAProxy serving a', async () => (await answer(mainPort)) === '200 a', 10_000, POLL_MS);
    await new Promise((r) => setTimeout(r, 2000)); // the owed first reload (retry delay) settles
    for (let i = 0; i < ROUNDS; i++) {
      await agent.put('/v1/agent/service/register', {
        ID: 'web-b',
        Name: 'web',
        Address: '127.0.0.1',
        Port: b,
        Meta: { color: 'blue' },
      });
      let t0 = performance.now();
      await waitFor('b to be served', async () => (await answer(mainPort)) === '200 b', 10_000, POLL_MS);
      added.push(performance.now() - t0);
      await agent.put('/v1/agent/service/deregister/web-b');
      t0 = performance.now();
      // Gone when 6 requests in a row (round robin over what is left) miss it.
      let last = '';
      await waitFor(
        'b to be gone',
        async () => {
          for (let k = 0; k < 6; k++) if ((last = await answer(mainPort)) !== '200 a') return false;
          return true;
        },
        10_000,
        POLL_MS,
      ).catch((err: unknown) => {
        throw new Error(`${(err as Error).message} in round ${i + 1} (last answer through HAProxy: "${last}")`);
      });
      removed.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 300));
    }
  } finally {
    await role.close();
    await consul.close();
    haproxy?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
  const reloads = (await metrics.reloads.get()).values.reduce(
    (n, v) => n + (v.labels.outcome === 'ok' ? v.value : 0),
    0,
  );
  const runtime = (await metrics.runtimeUpdates.get()).values.reduce((n, v) => n + v.value, 0);
  const mode = runtimeApi ? 'Runtime API on ' : 'reload always  ';
  console.log(`${mode} instance added   → served:     ${formatSummary(summarize(added))}`);
  console.log(`${mode} instance removed → not served: ${formatSummary(summarize(removed))}`);
  console.log(`${mode} applies: ${reloads} reloads, ${runtime} Runtime API updates`);
}

async function main(): Promise<void> {
  if (!CONSUL) throw new Error('SWITCHYARD_CONSUL_BIN is not set; eval "$(bash scripts/provision.sh)" first');
  // The test suite's dev agent: it waits until the agent leads, and ends only its own process.
  const agent = await TestConsulAgent.start(`sy-bench-${process.pid}`);
  agentPid = agent.pid;
  const a = await backend('a');
  const b = await backend('b');
  try {
    await agent.put('/v1/agent/service/register', {
      ID: 'web-a',
      Name: 'web',
      Address: '127.0.0.1',
      Port: a.port,
      Meta: { color: 'blue' },
    });
    console.log(`render-latency: ${ROUNDS} rounds per mode, HAProxy ${HAPROXY}, default --wait 250ms:1s`);
    await scenario(true, agent, a.port, b.port);
    await scenario(false, agent, a.port, b.port);
  } finally {
    a.server.close();
    b.server.close();
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await agent.stop();
  }
}

const timer = setTimeout(() => {
  console.error('render-latency: gave up after 5 minutes');
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  if (agentPid) process.kill(agentPid, 'SIGKILL');
  process.exit(1);
}, 300_000);
timer.unref();
await main();
