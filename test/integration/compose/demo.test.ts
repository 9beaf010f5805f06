import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { LoadProcess } from '../../../bench/lib/load-process.js';
import type { LoadSummary, LoadTick } from '../../../bench/lib/load.js';
import { requireDocker } from '../../helpers/components.js';
import { BuildLeftovers } from '../../helpers/docker.js';
import { freePort, waitFor } from '../../helpers/ports.js';

/**
 * The demo stack exactly as docs/tutorial.md runs it: stand-ins for the public images
 * (scripts/build-standins.sh), the project's own compose/docker-compose.yml brought up unchanged
 * (only the host ports move, through the variables the file documents), then the tutorial's
 * commands under HTTP load — deploy green, preview, switch, tear down blue, roll back, canary —
 * asserting zero failed requests, who answers after each step, and what `docker compose logs
 * switchyard` says. The image itself: healthy, non-root, labelled.
 */
const run = promisify(execFile);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const composeFile = path.join(repo, 'compose/docker-compose.yml');
const project = `sy-demo-${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
const greenName = `${project}-green`;
const standaloneName = `${project}-standalone`;
const service = 'switchyard-demo';
const demoImage = 'switchyard-demo';
/** A label key of this run's own, so no other Switchyard on the host registers its containers (and it none of theirs). */
const colorLabel = `${project}.color`;
/** docs/tutorial.md's deploy command: the design card's `docker run -l color=green <image>`, plus what the app prints. */
// prettier-ignore
const deployGreen = ['docker', 'run', '-d', '--name', greenName, '-l', `${colorLabel}=green`, '-e', 'COLOR=green', '-e', 'VERSION=2', demoImage];
const log = (line: string) => process.stdout.write(`[demo] ${line}\n`);

/** `docker compose` (v2 plugin) when the docker CLI has it, else docker-compose 1.29. */
function composeCli(): string[] {
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0) return ['docker', 'compose'];
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0) return ['docker-compose'];
  throw new Error('no compose CLI: neither `docker compose` nor `docker-compose` works; run scripts/provision.sh');
}

const ports = { http: 0, preview: 0, stats: 0, consul: 0, metrics: 0 };
let env: NodeJS.ProcessEnv = {};
let cli: string[] = [];
let load: LoadProcess | undefined;
/** Dangling images before this file built anything (test/helpers/docker.ts). */
let leftovers: BuildLeftovers | undefined;

async function sh(cmd: string[], timeoutMs = 120_000): Promise<string> {
  const [file, ...args] = cmd;
  try {
    const { stdout } = await run(file!, args, { env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, cwd: repo });
    return stdout.trim();
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`.slice(0, 6_000), {
      cause: err,
    });
  }
}

const composeFiles = ['-f', composeFile];
const compose = (...args: string[]) => sh([...cli, '-p', project, ...composeFiles, ...args], 900_000);
/** A `switchyard` control command inside the running switchyard container, as the tutorial runs it. */
const switchyard = (...args: string[]) => compose('exec', '-T', 'switchyard', 'switchyard', ...args);

async function get(port: number): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(3_000) });
  return { status: res.status, body: (await res.text()).trim() };
}

/** Waits until the port answers 200 with a body whose first word is `color`; returns the body. */
function waitForColor(port: number, color: string, timeoutMs = 30_000): Promise<string> {
  return waitFor(
    `${color} on port ${port}`,
    async () => {
      const r = await get(port);
      return r.status === 200 && r.body.split(' ')[0] === color ? r.body : false;
    },
    timeoutMs,
    200,
  );
}

interface LogLine {
  message: string;
  [key: string]: unknown;
}

/** `docker compose logs switchyard`, parsed: every JSON line, prefix ("switchyard_1  | ") removed. */
async function switchyardLogs(): Promise<LogLine[]> {
  const out = await compose('logs', '--no-color', 'switchyard');
  const lines: LogLine[] = [];
  for (const raw of out.split('\n')) {
    const at = raw.indexOf('{');
    if (at < 0) continue;
    try {
      lines.push(JSON.parse(raw.slice(at)) as LogLine);
    } catch {
      // not a log record (compose's own "Attaching to" line)
    }
  }
  return lines;
}

async function catalogColors(): Promise<string[]> {
  const res = await fetch(`http://127.0.0.1:${ports.consul}/v1/catalog/service/${service}`);
  const entries = (await res.json()) as { ServiceTags: string[]; ServiceMeta: Record<string, string> }[];
  return entries.map((e) => e.ServiceMeta.color ?? e.ServiceTags.join(',')).sort();
}

/** The sum of a counter's samples on Switchyard's published /metrics, e.g. every outcome of the reloads. */
async function counter(name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${ports.metrics}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m?.[1] === name && (m[2] ?? '').includes(labels)) sum += Number(m[3]);
  }
  return sum;
}

/** Colors answered in the ticks between two instants (epoch ms). */
function colorsBetween(ticks: LoadTick[], from: number, to: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of ticks)
    if (t.t >= from && t.t < to) for (const [c, n] of Object.entries(t.colors)) out[c] = (out[c] ?? 0) + n;
  return out;
}

beforeAll(async () => {
  requireDocker();
  cli = composeCli();
  for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
  env = {
    ...process.env,
    SWITCHYARD_DEMO_NAME: project,
    SWITCHYARD_DEMO_COLOR_LABEL: colorLabel,
    SWITCHYARD_DEMO_HTTP_PORT: String(ports.http),
    SWITCHYARD_DEMO_PREVIEW_PORT: String(ports.preview),
    SWITCHYARD_DEMO_STATS_PORT: String(ports.stats),
    SWITCHYARD_DEMO_CONSUL_PORT: String(ports.consul),
    SWITCHYARD_DEMO_METRICS_PORT: String(ports.metrics),
    // Containers on the default bridge have no route out here (dockerd runs with --iptables=false).
    SWITCHYARD_DEMO_BUILD_NETWORK: 'host',
    // The classic builder: Debian's engine may have no BuildKit, and compose 1.29 builds with it anyway.
    DOCKER_BUILDKIT: '0',
    COMPOSE_DOCKER_CLI_BUILD: '0',
  };
  if (!existsSync(path.join(repo, 'dist/bench/lib/load.js'))) await sh(['npm', 'run', '--silent', 'build'], 300_000);

  leftovers = await BuildLeftovers.snapshot();
  let t = Date.now();
  await sh(['bash', 'scripts/build-standins.sh'], 900_000);
  log(`stand-ins ready in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  t = Date.now();
  await compose('up', '-d', '--build');
  log(`stack up (project ${project}) in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  // The tutorial's first check: blue answers on the live port.
  await waitForColor(ports.http, 'blue', 60_000);
}, 1_200_000);

afterAll(async () => {
  load?.kill();
  for (const name of [greenName, standaloneName])
    await run('docker', ['rm', '-f', '-v', name], { timeout: 60_000 }).catch(() => undefined);
  if (cli.length > 0) {
    if (process.env.SWITCHYARD_DEMO_KEEP_LOGS)
      await compose('logs', '--no-color').then(
        (l) => log(l.slice(-20_000)),
        () => undefined,
      );
    await compose('down', '-v', '--remove-orphans').catch((err: Error) => log(`compose down failed: ${err.message}`));
  }
  if (leftovers) log(await leftovers.removeNew());
}, 300_000);

describe('the compose demo, following docs/tutorial.md under HTTP load', () => {
  it('deploys green, previews, switches, tears down blue, rolls back and canaries with zero failed requests', async () => {
    load = new LoadProcess({
      url: `http://127.0.0.1:${ports.http}/`,
      durationMs: 600_000,
      keepAlive: 8,
      fresh: 2,
      rate: 400,
    });
    await load.waitForOnly('blue', 5, 30_000);
    const marks: Record<string, number> = { start: Date.now() };
    // Green's slots and preview backend are in the config from the start (--colors): from here on,
    // green's first instance included, every step goes through the admin socket. Counted from the
    // first successful reload (a first one that failed, before HAProxy ran, is owed until then).
    await waitFor(
      'the first successful reload',
      async () => (await counter('switchyard_reloads_total', 'outcome="ok"')) >= 1,
      30_000,
      250,
    );
    const reloadsAtStart = await counter('switchyard_reloads_total', 'outcome="ok"');

    // 1. Deploy green: the design card's command, plus the variables the demo app prints.
    await sh(deployGreen);
    // 2. Preview it on 8080 while blue stays live.
    const preview = await waitForColor(ports.preview, 'green', 30_000);
    expect(preview).toMatch(/^green v2 [0-9a-f]{12}$/);
    expect((await get(ports.http)).body).toMatch(/^blue v1 /);
    const status = await switchyard('status');
    expect(status).toMatch(/live:\s+blue/);

    // 3. Switch, and wait until the proxy serves it: through the shared admin socket, no reload.
    const reloadsBefore = await counter('switchyard_reloads_total');
    const runtimeBefore = await counter('switchyard_runtime_updates_total', 'outcome="ok"');
    marks.switch = Date.now();
    expect(await switchyard('switch', 'green', '--wait')).toMatch(/blue → green/);
    marks.green = await load.waitForOnly('green', 5, 30_000);
    expect(await counter('switchyard_reloads_total')).toBe(reloadsBefore);
    expect(await counter('switchyard_runtime_updates_total', 'outcome="ok"')).toBeGreaterThan(runtimeBefore);

    // 4. Tear down blue: stopped and removed; gone from Consul and from the proxy's idle side.
    await compose('rm', '-s', '-f', 'blue');
    await waitFor(
      'blue to leave the Consul catalog',
      async () => !(await catalogColors()).includes('blue'),
      30_000,
      250,
    );
    await waitFor(
      'the preview port to have no instance',
      async () => (await get(ports.preview)).status === 503,
      30_000,
      250,
    );
    expect(await compose('ps', '-q', 'blue')).toBe('');

    // 5. Roll back: blue comes back, then takes the live port again.
    await compose('up', '-d', 'blue');
    await waitForColor(ports.preview, 'blue', 60_000);
    marks.rollback = Date.now();
    await switchyard('rollback', '--wait');
    marks.blue = await load.waitForOnly('blue', 5, 30_000);
    await sh(['docker', 'stop', greenName]);
    await sh(['docker', 'rm', greenName]);
    await waitFor(
      'the preview port to have no instance',
      async () => (await get(ports.preview)).status === 503,
      30_000,
      250,
    );

    // 6. Canary: green again, 10 % of live traffic, then 100 % (which completes it as a switch).
    await sh(deployGreen);
    await waitForColor(ports.preview, 'green', 30_000);
    await switchyard('canary', 'green', '10', '--wait');
    marks.canary10 = Date.now();
    await new Promise((r) => setTimeout(r, 4_000));
    marks.canary100 = Date.now();
    await switchyard('canary', 'green', '100', '--wait');
    marks.done = await load.waitForOnly('green', 5, 30_000);

    expect(await counter('switchyard_reloads_total', 'outcome="ok"')).toBe(reloadsAtStart);

    const summary: LoadSummary = await load.stop();
    load = undefined;
    log(
      `${summary.requests} requests at ${summary.rate} req/s, ${summary.failed} failed ${JSON.stringify(summary.failures)}, ` +
        `colors ${JSON.stringify(summary.colors)}, latency ${JSON.stringify(summary.latencyMs)}`,
    );

    // Zero failed requests across every step, on keep-alive and new connections alike.
    expect(summary.failureSamples).toEqual([]);
    expect(summary.failed).toBe(0);
    expect(summary.byClient.keepalive.requests).toBeGreaterThan(1_000);
    expect(summary.byClient.fresh.requests).toBeGreaterThan(100);
    // Who answered when: only blue before the switch, only green between switch and rollback, and
    // during the canary both, green the minority.
    expect(Object.keys(colorsBetween(summary.timeline, marks.start!, marks.switch!))).toEqual(['blue']);
    expect(Object.keys(colorsBetween(summary.timeline, marks.green!, marks.rollback!))).toEqual(['green']);
    const canary = colorsBetween(summary.timeline, marks.canary10! + 1_000, marks.canary100!);
    expect(canary.green ?? 0).toBeGreaterThan(0);
    expect(canary.blue ?? 0).toBeGreaterThan(canary.green ?? 0);
    expect(Object.keys(colorsBetween(summary.timeline, marks.done!, Date.now()))).toEqual(['green']);

    // What `docker compose logs switchyard` tells: green registered by its container name, the
    // switch, the first render's reload and the Runtime API updates that carried the switch.
    const logs = await switchyardLogs();
    const find = (pred: (l: LogLine) => boolean) => logs.find(pred);
    expect(
      find((l) => l.container === greenName && /^registered switchyard-demo \(green\) at [\d.]+:8080$/.test(l.message)),
    ).toBeDefined();
    // Blue's teardown: drained on Docker's kill event, then deregistered (tutorial, section 5).
    const isBlue = (l: LogLine) => l.container === `${project}_blue_1` || l.container === `${project}-blue-1`;
    expect(find((l) => isBlue(l) && /^registered switchyard-demo \(blue\)/.test(l.message))).toBeDefined();
    expect(find((l) => isBlue(l) && /^draining: /.test(l.message))).toBeDefined();
    expect(find((l) => isBlue(l) && /^deregistered switchyard-demo /.test(l.message))).toBeDefined();
    expect(
      find((l) => /live blue → green/.test(l.message) || /blue became live|green became live/.test(l.message)),
    ).toBeDefined();
    expect(find((l) => /haproxy config installed and reloaded/.test(l.message))).toBeDefined();
    expect(find((l) => /^haproxy servers updated through the Runtime API, no reload/.test(l.message))).toBeDefined();
    expect(logs.filter((l) => l.level === 'error')).toEqual([]);
  }, 600_000);

  it('runs the switchyard image healthy and as non-root', async () => {
    const id = await compose('ps', '-q', 'switchyard');
    const health = await waitFor(
      'the switchyard container to be healthy',
      async () => {
        const s = await sh(['docker', 'inspect', '-f', '{{.State.Health.Status}}', id]);
        if (s === 'unhealthy') throw new Error('switchyard container reports unhealthy');
        return s === 'healthy' ? s : false;
      },
      60_000,
      1_000,
    );
    expect(health).toBe('healthy');
    // The daemon (PID 1 after the entrypoint's exec) runs as 10001 with no capabilities, even
    // though compose starts the container as root to find the socket's group.
    const status = await sh(['docker', 'exec', id, 'cat', '/proc/1/status']);
    expect(status).toMatch(/^Uid:\s+10001\s+10001\s+10001\s+10001$/m);
    expect(status).toMatch(/^CapEff:\s+0+$/m);

    const image = await sh(['docker', 'inspect', '-f', '{{.Config.Image}}', id]);
    const cfg = JSON.parse(await sh(['docker', 'image', 'inspect', '-f', '{{json .Config}}', image])) as {
      User: string;
      Labels: Record<string, string>;
      Healthcheck?: { Test: string[] };
    };
    expect(cfg.User).toBe('10001:10001');
    expect(cfg.Labels['org.opencontainers.image.title']).toBe('switchyard');
    expect(cfg.Healthcheck?.Test.join(' ')).toContain('healthcheck.mjs');
    const size = Number(await sh(['docker', 'image', 'inspect', '-f', '{{.Size}}', image]));
    log(`image ${image}: ${(size / 1e6).toFixed(0)} MB`);

    // Run as the image says (no `user: root`), with the socket's group added: the documented
    // alternative. It reaches Docker and Consul and reports healthy. A label key no container
    // carries keeps it from registering anything next to the demo's own Switchyard.
    const gid = (await sh(['stat', '-c', '%g', '/var/run/docker.sock'])).trim();
    const network = JSON.parse(
      await sh(['docker', 'inspect', '-f', '{{json .NetworkSettings.Networks}}', id]),
    ) as Record<string, unknown>;
    await sh([
      'docker', 'run', '-d', '--name', standaloneName, '--group-add', gid,
      '--network', Object.keys(network)[0]!, '-v', '/var/run/docker.sock:/var/run/docker.sock',
      '-e', 'CONSUL_HTTP_ADDR=consul:8500', '-e', 'SWITCHYARD_COLOR_LABEL=switchyard.image-test.none',
      '-e', 'SWITCHYARD_NODE_ID=image-test', image, 'run', '--no-render',
    ]); // prettier-ignore
    expect(await sh(['docker', 'exec', standaloneName, 'id', '-u'])).toBe('10001');
    await waitFor(
      'the standalone switchyard container to be healthy',
      async () => {
        const s = await sh(['docker', 'inspect', '-f', '{{.State.Health.Status}}', standaloneName]);
        if (s === 'unhealthy')
          throw new Error(`unhealthy: ${await sh(['docker', 'logs', '--tail', '20', standaloneName])}`);
        return s === 'healthy';
      },
      60_000,
      1_000,
    );
    // It sits on the project's network, which `compose down` can only remove once it is gone.
    await sh(['docker', 'rm', '-f', standaloneName]);
  }, 180_000);

  it('runs the same flow with nginx through the override file (docs/tutorial.md, section 10)', async () => {
    await compose('down', '-v', '--remove-orphans');
    await sh(['docker', 'rm', '-f', greenName]);
    composeFiles.push('-f', path.join(repo, 'compose/nginx.yml'));
    await compose('up', '-d', '--build');
    await waitForColor(ports.http, 'blue', 60_000);

    load = new LoadProcess({
      url: `http://127.0.0.1:${ports.http}/`,
      durationMs: 300_000,
      keepAlive: 8,
      fresh: 2,
      rate: 400,
    });
    await load.waitForOnly('blue', 5, 30_000);
    await sh(deployGreen);
    await waitForColor(ports.preview, 'green', 30_000);
    await switchyard('switch', 'green', '--wait');
    await load.waitForOnly('green', 5, 30_000);
    await compose('rm', '-s', '-f', 'blue');
    await waitFor(
      'the preview port to have no instance',
      async () => (await get(ports.preview)).status === 503,
      30_000,
      250,
    );
    const summary = await load.stop();
    load = undefined;
    log(
      `nginx: ${summary.requests} requests at ${summary.rate} req/s, ${summary.failed} failed ${JSON.stringify(summary.failures)}`,
    );
    // nginx closes idle keep-alive connections on a reload; the shipped template turns client
    // keep-alive off for that reason (docs/templates.md), which leaves nothing to fail.
    expect(summary.failureSamples).toEqual([]);
    expect(summary.failed).toBe(0);

    const logs = await switchyardLogs();
    expect(logs.find((l) => /^nginx config installed and reloaded/.test(l.message))).toBeDefined();
    expect(
      logs.find((l) => l.container === greenName && /^registered switchyard-demo \(green\)/.test(l.message)),
    ).toBeDefined();
    expect(logs.filter((l) => l.level === 'error')).toEqual([]);
  }, 300_000);
});
