/**
 * Switch under load: for each proxy path — HAProxy with the Runtime API (the default), HAProxy with
 * `--no-haproxy-runtime-api` (a checked reload per change), nginx (a checked reload per change) —
 * with real dockerd, a throw-away `consul agent -dev`, the proxy and `switchyard run` (register +
 * render) as its own process, and HTTP load from a separate process (bench/lib/load.ts):
 *
 *   1. N consecutive switches blue↔green (`switchyard switch <color>` run as a CLI process, or with
 *      --via library the SwitchControl.switchTo() the CLI calls, in this process): failed requests,
 *      total requests and req/s over the whole phase, reloads and Runtime API updates it caused;
 *   2. switch → traffic latency: from the switch command returning (the state is written in Consul KV)
 *      until the traffic is the new color. Measured two ways: a probe loop in this process (one GET on a
 *      new connection every --probe-interval; "flipped" = the first of --confirm consecutive answers of
 *      the new color) and, at 50 ms resolution, the load generator's timeline (the end of the first
 *      bucket from which every bucket until the next switch holds only the new color);
 *   3. a burst of M containers of the live color started --parallel at a time: proxy reloads and Runtime
 *      API updates (from the daemon's /metrics, cross-checked with its log lines) until the proxy is
 *      quiet again, and the time until every one of them has answered through the main port.
 *
 *   npm run build && node dist/bench/switch-under-load.js
 *   # options (env): --switches 100 (SWITCHYARD_BENCH_SWITCHES), --burst 50 (SWITCHYARD_BENCH_BURST),
 *   #   --paths haproxy-runtime,haproxy-reload,nginx (SWITCHYARD_BENCH_PATHS; also nginx-keepalive:
 *   #   nginx with client keep-alive on, keepaliveTimeout=65s), --via cli|library (SWITCHYARD_BENCH_VIA),
 *   #   --parallel 8, --rate 1000, --keepalive 16, --fresh 4, --render-wait 250ms:1s, --gap 250,
 *   #   --probe-interval 5, --confirm 5, --bound 25 (minutes), --keep-logs DIR (the daemon's log per path)
 *
 * Needs SWITCHYARD_CONSUL_BIN and SWITCHYARD_TEST_IMAGE (scripts/provision.sh exports them), haproxy
 * and nginx. The stack (Consul agent, apps, proxy, `switchyard run`) is the e2e tests' one,
 * test/helpers/switchyard-stack.ts, on its `bridge` network. Isolation on a shared dockerd: the
 * containers carry a color label of their own (`swb<pid>-color`) and no SERVICE_NAME, so other
 * Switchyard daemons skip them; they sit on the default bridge and are registered at their own IP
 * (`run --internal`), so no docker-proxy is in the path; the daemon renders only this service
 * (`--services`). Everything started is ended by handle and every container removed by id, also on
 * failure, Ctrl-C or the --bound time limit.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { ConsulHttpClient } from '../src/consul/consul-http-client.js';
import { createLogger } from '../src/log/logger.js';
import { META_CONTAINER_ID } from '../src/registrar/meta-keys.js';
import { SwitchControl } from '../src/switch/switch-control.js';
import { SwitchyardStack } from '../test/helpers/switchyard-stack.js';
import type { LoadSummary, LoadTick } from './lib/load.js';
import { LoadProcess } from './lib/load-process.js';
import { metricSum, probe, scrapeMetrics, sleep, waitFor, waitQuiet, type ProbeAnswer } from './lib/stack.js';
import { formatSummary, summarize, type Summary } from './lib/stats.js';

type PathName = 'haproxy-runtime' | 'haproxy-reload' | 'nginx' | 'nginx-keepalive';
const PATHS: readonly PathName[] = ['haproxy-runtime', 'haproxy-reload', 'nginx', 'nginx-keepalive'];
const PATH_TITLE: Record<PathName, string> = {
  'haproxy-runtime': 'HAProxy 2.6, Runtime API (default)',
  'haproxy-reload': 'HAProxy 2.6, --no-haproxy-runtime-api (reload per change)',
  nginx: 'nginx 1.22 (reload per change, template default keepaliveTimeout=0)',
  'nginx-keepalive': 'nginx 1.22 with client keep-alive (keepaliveTimeout=65s)',
};

// ---------------------------------------------------------------- options

function option(name: string, env: string | undefined): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0) {
    const v = process.argv[i + 1];
    if (v === undefined) throw new Error(`--${name} needs a value`);
    return v;
  }
  return env ? process.env[env] : undefined;
}
function intOption(name: string, env: string | undefined, dflt: number, min: number, max: number): number {
  const raw = option(name, env);
  const v = raw === undefined ? dflt : Number(raw);
  if (!Number.isInteger(v) || v < min || v > max)
    throw new Error(`--${name}${env ? ` (${env})` : ''} expects a whole number from ${min} to ${max}, got "${raw}"`);
  return v;
}

const known = new Set([
  'switches',
  'burst',
  'paths',
  'via',
  'parallel',
  'rate',
  'keepalive',
  'fresh',
  'render-wait',
  'gap',
  'probe-interval',
  'confirm',
  'bound',
  'keep-logs',
]);
for (let i = 2; i < process.argv.length; i += 2) {
  const a = process.argv[i]!;
  if (!a.startsWith('--') || !known.has(a.slice(2))) {
    console.error(`switch-under-load: unknown argument ${a} (see the header of bench/switch-under-load.ts)`);
    process.exit(2);
  }
}

const SWITCHES = intOption('switches', 'SWITCHYARD_BENCH_SWITCHES', 100, 0, 1000);
const BURST = intOption('burst', 'SWITCHYARD_BENCH_BURST', 50, 0, 200);
const PARALLEL = intOption('parallel', undefined, 8, 1, 32);
const RATE = intOption('rate', undefined, 1000, 0, 10_000);
const KEEPALIVE = intOption('keepalive', undefined, 16, 0, 200);
const FRESH = intOption('fresh', undefined, 4, 0, 200);
const GAP_MS = intOption('gap', undefined, 250, 0, 10_000);
const PROBE_INTERVAL_MS = intOption('probe-interval', undefined, 5, 0, 1000);
const CONFIRM = intOption('confirm', undefined, 5, 1, 100);
const BOUND_MIN = intOption('bound', undefined, 25, 1, 120);
const KEEP_LOGS = option('keep-logs', undefined);
const RENDER_WAIT = option('render-wait', undefined) ?? '250ms:1s';
const VIA = (option('via', 'SWITCHYARD_BENCH_VIA') ?? 'cli') as 'cli' | 'library';
if (VIA !== 'cli' && VIA !== 'library') throw new Error(`--via expects cli or library, got "${String(VIA)}"`);
const SELECTED = (option('paths', 'SWITCHYARD_BENCH_PATHS') ?? 'haproxy-runtime,haproxy-reload,nginx')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean) as PathName[];
for (const p of SELECTED) if (!PATHS.includes(p)) throw new Error(`--paths: unknown path "${p}" (${PATHS.join(', ')})`);

const BUCKET_MS = 50;
const TAG = `swb${process.pid}`;
const COLOR_LABEL = `${TAG}-color`;
const SERVICE = SwitchyardStack.serviceName('bridge');
const DEADLINE = Date.now() + BOUND_MIN * 60_000;

// ---------------------------------------------------------------- cleanup bookkeeping

let interrupted: string | undefined;
let currentStack: SwitchyardStack | undefined;
const loads = new Set<LoadProcess>();
const checkInterrupted = () => {
  if (!interrupted && Date.now() > DEADLINE) interrupted = `over the --bound of ${BOUND_MIN} min`;
  if (interrupted) throw new Error(`stopping: ${interrupted}`);
};

function startLoad(url: string): LoadProcess {
  const l = new LoadProcess({
    url,
    durationMs: 20 * 60_000,
    keepAlive: KEEPALIVE,
    fresh: FRESH,
    rate: RATE,
    bucketMs: BUCKET_MS,
  });
  loads.add(l);
  return l;
}
async function stopLoad(l: LoadProcess): Promise<LoadSummary> {
  try {
    return await l.stop();
  } finally {
    loads.delete(l);
  }
}

// ---------------------------------------------------------------- the daemon's log

interface DaemonLog {
  reloadLines: number;
  runtimeLines: number;
  /** warn/error lines, the first 40. */
  problems: string[];
  problemCount: number;
  /** warn/error lines before the measurements began (e.g. the expected first reload before the proxy runs). */
  setupProblems: number;
  /** Reasons of reloads / admin-socket changes that were not a switch (the first 20). */
  otherReasons: string[];
}

function daemonLogCounter(): { log: DaemonLog; onLine: (line: string) => void } {
  const log: DaemonLog = {
    reloadLines: 0,
    runtimeLines: 0,
    problems: [],
    problemCount: 0,
    setupProblems: 0,
    otherReasons: [],
  };
  return {
    log,
    onLine: (line: string) => {
      let rec: { level?: string; message?: string };
      try {
        rec = JSON.parse(line) as { level?: string; message?: string };
      } catch {
        return;
      }
      const msg = rec.message ?? '';
      const reload = /config installed and reloaded/.test(msg);
      const runtime = /changed through the admin socket/.test(msg);
      if (reload) log.reloadLines += 1;
      if (runtime) log.runtimeLines += 1;
      const why = (rec as { reason?: string }).reason ?? msg;
      if ((reload || runtime) && !/became live/.test(why) && log.otherReasons.length < 20)
        log.otherReasons.push(`${reload ? 'reload' : 'runtime'}: ${why.slice(0, 200)}`);
      if (rec.level === 'warn' || rec.level === 'error') {
        log.problemCount += 1;
        if (log.problems.length < 40) log.problems.push(line.slice(0, 600));
      }
    },
  };
}

// ---------------------------------------------------------------- a probe loop through the proxy

/** Sequential GETs, each on a new connection, every `intervalMs`; keeps every answer. */
class Prober {
  readonly answers: ProbeAnswer[] = [];
  private running = true;
  private readonly done: Promise<void>;
  constructor(port: number, intervalMs: number) {
    this.done = (async () => {
      while (this.running) {
        this.answers.push(await probe(port, false));
        if (intervalMs > 0) await sleep(intervalMs);
      }
    })();
  }
  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

// ---------------------------------------------------------------- one path

interface SwitchRecord {
  target: string;
  start: number;
  returned: number;
  /** First of CONFIRM consecutive probe answers of the target color, ms since the epoch. */
  flippedAt: number;
  /** Probe answers of another color after the flip, before the next switch. */
  regressions: number;
  probeFailures: number;
}

interface PathResult {
  path: PathName;
  via: string;
  switches: SwitchRecord[];
  switchLoad: LoadSummary;
  switchPhaseMs: number;
  switchCommandMs: Summary;
  probeLatency: Summary;
  timelineLatency: Summary;
  timelineUnsettled: number;
  switchReloads: number;
  switchRuntime: number;
  switchReloadFailures: number;
  daemonEventToLive: { count: number; meanMs: number };
  /** Reloads / admin-socket changes during the switch phase for another reason than a switch. */
  switchOther: string[];
  burst?: {
    size: number;
    dockerMs: number;
    served: number;
    allServedMs: number | undefined;
    reloads: number;
    reloadFailures: number;
    runtime: number;
    runtimeFailed: number;
    renders: number;
    logReloads: number;
    logRuntime: number;
    load: LoadSummary;
  };
  log: DaemonLog;
}

async function runPath(name: PathName): Promise<PathResult> {
  const counter = daemonLogCounter();
  const log = counter.log;
  const logFile = KEEP_LOGS ? path.join(KEEP_LOGS, `switch-under-load-${name}-daemon.log`) : undefined;
  if (logFile) writeFileSync(logFile, '');
  const stack = new SwitchyardStack({
    name: `${TAG}-${name}`,
    proxy: name.startsWith('haproxy') ? 'haproxy' : 'nginx',
    network: 'bridge',
    colorLabel: COLOR_LABEL,
    wait: RENDER_WAIT,
    logFormat: 'json',
    templateParams: name === 'nginx-keepalive' ? ['keepaliveTimeout=65s'] : [],
    runArgs: name === 'haproxy-reload' ? ['--no-haproxy-runtime-api'] : [],
    onLine: (line: string) => {
      counter.onLine(line);
      if (logFile) appendFileSync(logFile, `${line}\n`);
    },
  });
  currentStack = stack;
  let control: { consul: ConsulHttpClient; control: SwitchControl } | undefined;
  try {
    await stack.start();
    const { mainPort, metricsUrl } = stack;
    for (const v of ['b1', 'b2']) await stack.app('blue', v);
    for (const v of ['g1', 'g2']) await stack.app('green', v);
    await stack.serve('blue', { blue: 2, green: 2 });
    checkInterrupted();

    // ------------------------------------------------------------ 1 + 2: consecutive switches
    if (VIA === 'library') {
      const consul = new ConsulHttpClient({ address: stack.consul.address });
      const logger = createLogger({ level: 'warn', json: true, stream: process.stderr });
      control = { consul, control: new SwitchControl({ consul, kvPrefix: 'switchyard', logger }) };
    }
    const doSwitch = async (color: string): Promise<void> => {
      if (control) {
        const r = await control.control.switchTo(SERVICE, color, { minPassing: 1, force: false, by: 'bench' });
        if (!r.changed) throw new Error(`switch to ${color} changed nothing: ${r.message}`);
        return;
      }
      const r = await stack.cli(['switch', color, '--service', SERVICE, '--reason', 'bench', '--by', 'bench']);
      if (r.code !== 0)
        throw new Error(`switchyard switch ${color} exited ${r.code}: ${(r.stdout + r.stderr).slice(-1000)}`);
    };

    let load = startLoad(`http://127.0.0.1:${mainPort}/`);
    await load.waitForOnly('blue', 10, 30_000);
    const m0 = await scrapeMetrics(metricsUrl);
    log.setupProblems = log.problemCount;
    log.problemCount = 0;
    log.problems.length = 0;
    log.otherReasons.length = 0;
    const prober = new Prober(mainPort, PROBE_INTERVAL_MS);
    const switches: SwitchRecord[] = [];
    const phaseStart = Date.now();
    try {
      for (let k = 0; k < SWITCHES; k++) {
        checkInterrupted();
        const target = k % 2 === 0 ? 'green' : 'blue';
        const from = prober.answers.length;
        const start = Date.now();
        await doSwitch(target);
        const returned = Date.now();
        const flipIndex = await waitFor(
          `traffic to turn ${target} after switch ${k + 1}`,
          () => {
            let run = 0;
            for (let i = from; i < prober.answers.length; i++) {
              run = prober.answers[i]!.color === target ? run + 1 : 0;
              if (run >= CONFIRM) return i - CONFIRM + 1;
            }
            return undefined;
          },
          30_000,
          2,
        );
        await sleep(GAP_MS);
        const after = prober.answers.slice(flipIndex);
        switches.push({
          target,
          start,
          returned,
          flippedAt: prober.answers[flipIndex]!.at,
          regressions: after.filter((a) => a.color !== undefined && a.color !== target).length,
          probeFailures: prober.answers.slice(from).filter((a) => a.failure).length,
        });
        if ((k + 1) % 10 === 0) process.stderr.write(`${name}: ${k + 1}/${SWITCHES} switches\n`);
      }
    } finally {
      await prober.stop();
    }
    const phaseEnd = Date.now();
    const switchLoad = await stopLoad(load);
    await sleep(500);
    const m1 = await scrapeMetrics(metricsUrl);
    const delta = (n: string, ...has: string[]) => metricSum(m1, n, ...has) - metricSum(m0, n, ...has);
    const switchOther = [...log.otherReasons];
    const e2lCount = delta('switchyard_event_to_live_seconds_count');
    const e2lSum = delta('switchyard_event_to_live_seconds_sum');

    const tl = timelineLatency(switchLoad.timeline, switches, phaseEnd);
    const result: PathResult = {
      path: name,
      via: VIA,
      switches,
      switchLoad,
      switchPhaseMs: phaseEnd - phaseStart,
      switchCommandMs: summarize(switches.map((s) => s.returned - s.start)),
      probeLatency: summarize(switches.map((s) => s.flippedAt - s.returned)),
      timelineLatency: summarize(tl.latencies),
      timelineUnsettled: tl.unsettled,
      switchReloads: delta('switchyard_reloads_total', 'outcome="ok"'),
      switchReloadFailures: delta('switchyard_reloads_total') - delta('switchyard_reloads_total', 'outcome="ok"'),
      switchRuntime: delta('switchyard_runtime_updates_total', 'outcome="ok"'),
      switchOther,
      daemonEventToLive: { count: e2lCount, meanMs: e2lCount ? (e2lSum * 1000) / e2lCount : NaN },
      log,
    };

    // ------------------------------------------------------------ 3: a burst of container starts
    if (BURST > 0) {
      checkInterrupted();
      const live = SWITCHES % 2 === 0 ? 'blue' : 'green';
      load = startLoad(`http://127.0.0.1:${mainPort}/`);
      await load.waitForOnly(live, 10, 30_000);
      const b0 = await scrapeMetrics(metricsUrl);
      const logBefore = { reloads: log.reloadLines, runtime: log.runtimeLines };
      const firstSeen = new Map<string, number>();
      const versions = Array.from({ length: BURST }, (_, i) => `x${i + 1}`);
      const wanted = new Set(versions);
      // Two keep-alive probe loops, unpaced: round-robin over ~BURST+2 servers sees each one quickly.
      const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
      let probing = true;
      const probes = [0, 1].map(async () => {
        while (probing) {
          const a = await probe(mainPort, agent);
          const v = a.rest?.split(' ')[0];
          if (v && wanted.has(v) && !firstSeen.has(v)) firstSeen.set(v, a.at);
          if (a.failure) await sleep(10);
        }
      });
      const burstStart = Date.now();
      let next = 0;
      let dockerMs = 0;
      try {
        await Promise.all(
          Array.from({ length: PARALLEL }, async () => {
            while (next < versions.length) {
              checkInterrupted();
              await stack.app(live, versions[next++]!);
            }
          }),
        );
        dockerMs = Date.now() - burstStart;
        await waitFor(`all ${BURST} burst containers served`, () => firstSeen.size >= BURST, 180_000, 100).catch(
          () => undefined,
        );
        // Then until the daemon is quiet: no new render, reload or Runtime API update for 3 s.
        await waitQuiet(metricsUrl, undefined, 3_000, 60_000);
      } finally {
        probing = false;
        await Promise.all(probes);
        agent.destroy();
      }
      const burstLoad = await stopLoad(load);
      const b1 = await scrapeMetrics(metricsUrl);
      const bd = (n: string, ...has: string[]) => metricSum(b1, n, ...has) - metricSum(b0, n, ...has);
      result.burst = {
        size: BURST,
        dockerMs,
        served: firstSeen.size,
        allServedMs: firstSeen.size >= BURST ? Math.max(...firstSeen.values()) - burstStart : undefined,
        reloads: bd('switchyard_reloads_total', 'outcome="ok"'),
        reloadFailures: bd('switchyard_reloads_total') - bd('switchyard_reloads_total', 'outcome="ok"'),
        runtime: bd('switchyard_runtime_updates_total', 'outcome="ok"'),
        runtimeFailed: bd('switchyard_runtime_updates_total') - bd('switchyard_runtime_updates_total', 'outcome="ok"'),
        renders: bd('switchyard_renders_total'),
        logReloads: log.reloadLines - logBefore.reloads,
        logRuntime: log.runtimeLines - logBefore.runtime,
        load: burstLoad,
      };
    }
    // Instances of this service the daemon registered: a sanity check that isolation held.
    const mine =
      await stack.consul.get<Record<string, { Service: string; Meta: Record<string, string> | null }>>(
        '/v1/agent/services',
      );
    const ours = Object.values(mine).filter((s) => s.Service === SERVICE && s.Meta?.[META_CONTAINER_ID]).length;
    if (ours !== 4 + BURST)
      process.stderr.write(`${name}: note: ${ours} instances of ${SERVICE} registered, expected ${4 + BURST}\n`);
    return result;
  } finally {
    for (const l of loads) l.kill();
    loads.clear();
    if (control) await control.consul.close().catch(() => undefined);
    await stack.close();
    currentStack = undefined;
  }
}

/**
 * Per switch, from the load's timeline: the end of the first bucket from which every non-empty bucket
 * up to the next switch holds only the target color, minus when the command returned (≥ 0).
 */
function timelineLatency(
  timeline: readonly LoadTick[],
  switches: readonly SwitchRecord[],
  phaseEnd: number,
): { latencies: number[]; unsettled: number } {
  const latencies: number[] = [];
  let unsettled = 0;
  switches.forEach((s, k) => {
    const until = switches[k + 1]?.start ?? phaseEnd;
    const window = timeline.filter((t) => t.t + BUCKET_MS > s.returned && t.t + BUCKET_MS <= until && t.ok > 0);
    let first: LoadTick | undefined;
    for (const t of window) {
      const pure = Object.keys(t.colors).length === 1 && (t.colors[s.target] ?? 0) > 0 && t.failed === 0;
      if (pure) first ??= t;
      else first = undefined;
    }
    if (first) latencies.push(Math.max(0, first.t + BUCKET_MS - s.returned));
    else unsettled += 1;
  });
  return { latencies, unsettled };
}

// ---------------------------------------------------------------- report

const ms = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '—' : `${Math.round(v)} ms`);
const sec = (v: number | undefined) => (v === undefined ? '—' : `${(v / 1000).toFixed(1)} s`);

function report(r: PathResult): void {
  const l = r.switchLoad;
  console.log(`\n== ${PATH_TITLE[r.path]}`);
  console.log(
    `${r.switches.length} switches via ${r.via === 'cli' ? '`switchyard switch` (CLI process)' : 'SwitchControl.switchTo() in-process'} in ${sec(r.switchPhaseMs)}`,
  );
  console.log(
    `  load: ${l.requests} requests at ${l.rate} req/s, failed ${l.failed} ${JSON.stringify(l.failures)} (keep-alive ${l.byClient.keepalive.failed}/${l.byClient.keepalive.requests}, new-connection ${l.byClient.fresh.failed}/${l.byClient.fresh.requests}), latency ${JSON.stringify(l.latencyMs)}`,
  );
  if (l.failureSamples.length)
    console.log(
      `  first failures: ${l.failureSamples
        .slice(0, 8)
        .map((f) => `${new Date(f.at).toISOString().slice(11, 23)} ${f.client} ${f.kind}`)
        .join('; ')}`,
    );
  console.log(
    `  proxy during the switches: ${r.switchReloads} reloads (${r.switchReloadFailures} failed), ${r.switchRuntime} Runtime API updates`,
  );
  console.log(`  switch command, start → return: ${formatSummary(r.switchCommandMs, 'ms', 0)}`);
  console.log(
    `  return → traffic new color (probe, first of ${CONFIRM} new-color answers): ${formatSummary(r.probeLatency, 'ms', 0)}`,
  );
  console.log(
    `  return → load all new color (${BUCKET_MS} ms buckets, end of bucket): ${formatSummary(r.timelineLatency, 'ms', 0)}${r.timelineUnsettled ? `, ${r.timelineUnsettled} switch(es) never settled in the load timeline` : ''}`,
  );
  const regressions = r.switches.reduce((a, s) => a + s.regressions, 0);
  const probeFailures = r.switches.reduce((a, s) => a + s.probeFailures, 0);
  console.log(`  probe: ${regressions} old-color answers after a flip, ${probeFailures} failed probes`);
  console.log(
    `  daemon's own switchyard_event_to_live_seconds over the phase: ${r.daemonEventToLive.count} observations, mean ${ms(r.daemonEventToLive.meanMs)}`,
  );
  if (r.switchOther.length)
    console.log(`  changes during the switches that were not a switch: ${r.switchOther.join(' | ')}`);
  if (r.burst) {
    const b = r.burst;
    console.log(
      `burst of ${b.size} containers (docker run ${PARALLEL} at a time): docker took ${sec(b.dockerMs)}; served ${b.served}/${b.size}${b.allServedMs !== undefined ? `, all ${sec(b.allServedMs)} after the burst began` : ''}`,
    );
    console.log(
      `  proxy: ${b.reloads} reloads (${b.reloadFailures} failed), ${b.runtime} Runtime API updates (${b.runtimeFailed} not ok), ${b.renders} renders; log lines: ${b.logReloads} reloaded, ${b.logRuntime} admin-socket`,
    );
    console.log(
      `  load: ${b.load.requests} requests at ${b.load.rate} req/s, failed ${b.load.failed} ${JSON.stringify(b.load.failures)}`,
    );
  }
  console.log(
    `  daemon warn/error lines while measuring: ${r.log.problemCount} (${r.log.setupProblems} during setup, e.g. the first reload before the proxy was started)`,
  );
  for (const p of r.log.problems.slice(0, 12)) console.log(`    ${p}`);
}

function table(results: readonly PathResult[]): void {
  console.log(
    '\n| path | switches | requests | rate | failed | reloads / runtime updates | return → traffic p50 / p99 (probe) | (load timeline) | burst: reloads / runtime updates | burst: all served |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const b = r.burst;
    console.log(
      `| ${PATH_TITLE[r.path]} | ${r.switches.length} | ${r.switchLoad.requests} | ${r.switchLoad.rate} req/s | ${r.switchLoad.failed} | ${r.switchReloads} / ${r.switchRuntime} | ${ms(r.probeLatency.p50)} / ${ms(r.probeLatency.p99)} | ${ms(r.timelineLatency.p50)} / ${ms(r.timelineLatency.p99)} | ${b ? `${b.reloads} / ${b.runtime}` : '—'} | ${b ? (b.allServedMs !== undefined ? sec(b.allServedMs) : `${b.served}/${b.size} served`) : '—'} |`,
    );
  }
}

// ---------------------------------------------------------------- main

process.once('SIGINT', () => (interrupted = 'SIGINT'));
process.once('SIGTERM', () => (interrupted = 'SIGTERM'));
const watchdog = setInterval(() => {
  if (!interrupted && Date.now() > DEADLINE) interrupted = `over the --bound of ${BOUND_MIN} min`;
}, 500);
watchdog.unref();

console.log(
  `switch-under-load: paths ${SELECTED.join(', ')}; ${SWITCHES} switches via ${VIA}, burst ${BURST} (${PARALLEL} at a time); load ${KEEPALIVE} keep-alive + ${FRESH} new-connection clients at ${RATE} req/s; --wait ${RENDER_WAIT}; service ${SERVICE}`,
);
const results: PathResult[] = [];
try {
  for (const p of SELECTED) {
    checkInterrupted();
    const started = Date.now();
    try {
      const r = await Promise.race([
        runPath(p),
        new Promise<never>((_, reject) => {
          const t = setInterval(() => {
            if (interrupted) {
              clearInterval(t);
              reject(new Error(`stopping: ${interrupted}`));
            }
          }, 200);
          t.unref();
        }),
      ]);
      results.push(r);
      report(r);
      console.log(`  (${p} took ${sec(Date.now() - started)} including setup and teardown)`);
    } catch (err) {
      console.error(`switch-under-load: ${p} failed: ${(err as Error).message}`);
      process.exitCode = 1;
      if (interrupted) break;
    }
  }
  if (results.length) table(results);
} finally {
  for (const l of loads) l.kill();
  await currentStack?.close();
}
process.exit(process.exitCode ?? 0);
