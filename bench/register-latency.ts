/**
 * Register latency: how long from Docker starting a labelled container to the instance being
 * visible in Consul's catalog, with `switchyard run` as a separate process against a throw-away
 * `consul agent -dev` and the local dockerd.
 *
 *   npm run build && node dist/bench/register-latency.js [--sequential 60] [--burst 100] [--parallel 8]
 *
 * Needs SWITCHYARD_CONSUL_BIN and SWITCHYARD_TEST_IMAGE (scripts/provision.sh exports them).
 * "Started" is the timestamp of Docker's own `start` event; "visible" is when a blocking query on
 * /v1/health/service/<name> first returns the instance. Bounded to 5 minutes; removes every
 * container it made and stops the processes it started, also on failure or Ctrl-C.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DockerodeDockerClient } from '../src/docker/dockerode-docker-client.js';
import { formatSummary, summarize } from './lib/stats.js';

const run = promisify(execFile);
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isInteger(v) || v < 1 || v > 500) throw new Error(`--${name} expects a whole number from 1 to 500`);
  return v;
};
const SEQUENTIAL = arg('sequential', 60);
const BURST = arg('burst', 100);
const PARALLEL = arg('parallel', 8);
const DEADLINE = Date.now() + 5 * 60_000;
const TAG = `swb${process.pid}`;
const COLOR_LABEL = `${TAG}-color`;
const image = process.env.SWITCHYARD_TEST_IMAGE ?? 'switchyard-test-app:latest';
const consulBin = process.env.SWITCHYARD_CONSUL_BIN;
const main = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');

const children: ChildProcess[] = [];
const containerIds: string[] = [];
const dataDir = mkdtempSync(path.join(tmpdir(), 'sy-bench-consul-'));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const end = Math.min(DEADLINE, Date.now() + timeoutMs);
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function startConsul(): Promise<string> {
  if (!consulBin) throw new Error('SWITCHYARD_CONSUL_BIN is not set: eval "$(bash scripts/provision.sh)" first');
  const [http, serf, server] = [await freePort(), await freePort(), await freePort()];
  const hcl = `ports { dns = -1, grpc = -1, grpc_tls = -1, serf_wan = -1, serf_lan = ${serf}, server = ${server} }`;
  const child = spawn(
    consulBin,
    [
      'agent',
      '-dev',
      '-bind=127.0.0.1',
      '-client=127.0.0.1',
      `-http-port=${http}`,
      `-node=${TAG}`,
      `-data-dir=${dataDir}`,
      `-hcl=${hcl}`,
      '-log-level=warn',
    ],
    { stdio: 'ignore' },
  );
  children.push(child);
  const url = `http://127.0.0.1:${http}`;
  await until('consul leader', async () =>
    (await (await fetch(`${url}/v1/status/leader`)).json()) ? true : undefined,
  );
  await until('consul catalog', async () => {
    const nodes = (await (await fetch(`${url}/v1/catalog/nodes`)).json()) as unknown[];
    return nodes.length > 0 ? true : undefined;
  });
  return url;
}

/** Follows /v1/health/service/<name> with blocking queries and records when each instance first appears. */
function watchService(url: string, name: string, signal: AbortSignal): Map<string, number> {
  const seen = new Map<string, number>();
  void (async () => {
    let index = 0;
    while (!signal.aborted) {
      try {
        const res = await fetch(`${url}/v1/health/service/${name}?wait=30s${index ? `&index=${index}` : ''}`, {
          signal,
        });
        const now = Date.now();
        const next = Number(res.headers.get('x-consul-index') ?? 0);
        index = next > 0 && next >= index ? next : 0;
        for (const e of (await res.json()) as Array<{ Service: { Meta: Record<string, string> | null } }>) {
          const cid = e.Service.Meta?.container_id;
          if (cid && !seen.has(cid)) seen.set(cid, now);
        }
      } catch {
        if (!signal.aborted) await new Promise((r) => setTimeout(r, 100));
      }
    }
  })();
  return seen;
}

async function dockerRun(name: string): Promise<string> {
  const { stdout } = await run(
    'docker',
    [
      'run',
      '-d',
      '--label',
      `switchyard.bench=${process.pid}`,
      '--name',
      name,
      '-l',
      `${COLOR_LABEL}=blue`,
      '-l',
      `SERVICE_NAME=${TAG}`,
      '-p',
      '127.0.0.1::8080',
      image,
    ],
    { timeout: 60_000 },
  );
  const id = stdout.trim();
  containerIds.push(id);
  return id;
}

async function cleanup(): Promise<void> {
  if (containerIds.length) {
    for (let i = 0; i < containerIds.length; i += 50)
      await run('docker', ['rm', '-f', ...containerIds.slice(i, i + 50)], { timeout: 120_000 }).catch(() => undefined);
  }
  for (const c of children.reverse()) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }
  rmSync(dataDir, { recursive: true, force: true });
}

async function mainBench(): Promise<void> {
  const consulUrl = await startConsul();
  const docker = new DockerodeDockerClient();
  const events = new AbortController();
  const startedAt = new Map<string, number>();
  void (async () => {
    for await (const e of docker.events({ signal: events.signal }))
      if (e.action === 'start' && e.attributes[COLOR_LABEL]) startedAt.set(e.id, Number(e.timeNano / 1_000_000n));
  })().catch(() => undefined);
  const seen = watchService(consulUrl, TAG, events.signal);

  const sy = spawn(
    process.execPath,
    [
      main,
      'run',
      '--consul-addr',
      consulUrl,
      '--node-id',
      TAG,
      '--color-label',
      COLOR_LABEL,
      '--no-render',
      '--http-listen',
      'off',
      '--log-level',
      'warn',
      '--log-format',
      'json',
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  children.push(sy);
  // Give switchyard its first reconcile before measuring.
  await new Promise((r) => setTimeout(r, 1_500));

  // 1. One at a time: the latency of a single start with nothing else going on.
  const seqIds: string[] = [];
  for (let i = 0; i < SEQUENTIAL; i++) {
    const id = await dockerRun(`${TAG}-seq-${i}`);
    seqIds.push(id);
    await until(`container ${i} in Consul`, async () => (seen.has(id) && startedAt.has(id) ? true : undefined));
  }
  const seqLatency = seqIds.map((id) => seen.get(id)! - startedAt.get(id)!);

  // 2. A burst: BURST containers started PARALLEL at a time, as a compose scale-up would.
  const burstIds: string[] = [];
  const burstBegin = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (next < BURST) {
        const i = next++;
        burstIds.push(await dockerRun(`${TAG}-burst-${i}`));
      }
    }),
  );
  const allStarted = Date.now();
  await until(
    'the whole burst in Consul',
    async () => (burstIds.every((id) => seen.has(id)) ? true : undefined),
    180_000,
  );
  const lastSeen = Math.max(...burstIds.map((id) => seen.get(id)!));
  const firstStart = Math.min(...burstIds.map((id) => startedAt.get(id) ?? Infinity));
  const lastStart = Math.max(...burstIds.map((id) => startedAt.get(id) ?? 0));
  const burstLatency = burstIds.filter((id) => startedAt.has(id)).map((id) => seen.get(id)! - startedAt.get(id)!);
  events.abort();
  await docker.close();

  console.log(
    `register latency (docker start event → visible in /v1/health/service), ${SEQUENTIAL} containers one at a time:`,
  );
  console.log(`  ${formatSummary(summarize(seqLatency))}`);
  console.log(`burst of ${BURST} containers (docker run ${PARALLEL} at a time):`);
  console.log(
    `  docker took ${((allStarted - burstBegin) / 1000).toFixed(1)} s to start them (first→last start event ${((lastStart - firstStart) / 1000).toFixed(1)} s)`,
  );
  console.log(
    `  all ${BURST} registered ${((lastSeen - burstBegin) / 1000).toFixed(1)} s after the burst began, ${lastSeen - lastStart} ms after the last start event`,
  );
  console.log(`  per-container latency: ${formatSummary(summarize(burstLatency))}`);
}

let interrupted = false;
const onSignal = () => {
  interrupted = true;
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);
const timer = setTimeout(() => (interrupted = true), DEADLINE - Date.now());
timer.unref();

try {
  await Promise.race([
    mainBench(),
    new Promise((_, reject) => {
      const t = setInterval(() => {
        if (interrupted) {
          clearInterval(t);
          reject(new Error('interrupted or over the 5 minute bound'));
        }
      }, 200);
      t.unref();
    }),
  ]);
} catch (err) {
  console.error(`register-latency: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
process.exit(process.exitCode ?? 0);
