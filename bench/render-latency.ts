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
import net from 'node:net';
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

const ROUNDS = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 20;
const HAPROXY = process.env.SWITCHYARD_HAPROXY_BIN ?? '/usr/sbin/haproxy';
const CONSUL = process.env.SWITCHYARD_CONSUL_BIN;
const children: ChildProcess[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host: 'web' }, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(`${res.statusCode} ${body.trim()}`));
    });
    req.setTimeout(2000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function backend(label: string): Promise<{ port: number; server: http.Server }> {
  const port = await freePort();
  const server = http.createServer((_q, res) => res.end(`${label}\n`));
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { port, server };
}

async function consulPut(base: string, apiPath: string, body?: unknown): Promise<void> {
  const res = await fetch(`${base}${apiPath}`, { method: 'PUT', body: body ? JSON.stringify(body) : undefined });
  if (!res.ok) throw new Error(`PUT ${apiPath}: ${res.status}`);
}

async function scenario(runtimeApi: boolean, consulUrl: string, a: number, b: number): Promise<void> {
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
  const consul = new ConsulHttpClient({ address: consulUrl });
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
    await until('the first config', () => existsSync(configPath));
    haproxy = spawn(HAPROXY, ['-W', '-f', configPath, '-p', pidFile], { stdio: 'ignore' });
    children.push(haproxy);
    await until('HAProxy serving a', async () => (await get(mainPort)) === '200 a');
    await new Promise((r) => setTimeout(r, 2000)); // the owed first reload (retry delay) settles
    for (let i = 0; i < ROUNDS; i++) {
      await consulPut(consulUrl, '/v1/agent/service/register', {
        ID: 'web-b',
        Name: 'web',
        Address: '127.0.0.1',
        Port: b,
        Meta: { color: 'blue' },
      });
      let t0 = performance.now();
      await until('b to be served', async () => (await get(mainPort)) === '200 b');
      added.push(performance.now() - t0);
      await consulPut(consulUrl, '/v1/agent/service/deregister/web-b');
      t0 = performance.now();
      // Gone when 6 requests in a row (round robin over what is left) miss it.
      let last = '';
      await until('b to be gone', async () => {
        for (let k = 0; k < 6; k++) if ((last = await get(mainPort)) !== '200 a') return false;
        return true;
      }).catch((err: unknown) => {
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
  const consulUrl = agent.url;
  const a = await backend('a');
  const b = await backend('b');
  try {
    await consulPut(consulUrl, '/v1/agent/service/register', {
      ID: 'web-a',
      Name: 'web',
      Address: '127.0.0.1',
      Port: a.port,
      Meta: { color: 'blue' },
    });
    console.log(`render-latency: ${ROUNDS} rounds per mode, HAProxy ${HAPROXY}, default --wait 250ms:1s`);
    await scenario(true, consulUrl, a.port, b.port);
    await scenario(false, consulUrl, a.port, b.port);
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
  process.exit(1);
}, 300_000);
timer.unref();
await main();
