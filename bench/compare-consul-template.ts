/**
 * Side by side with the anchor (issue 10, items 6 and 7): Switchyard against consul-template
 * v0.33.0 (the last MPL-2.0 release), in one run, on the same Consul, the same app containers and
 * the same load.
 *
 *   Switchyard:      `switchyard run` (register + render) → HAProxy A (shipped template, Runtime API path)
 *   consul-template: `consul-template -wait 250ms:1s` with bench/anchor/haproxy.ctmpl → HAProxy B,
 *                    reloaded by SIGUSR2 to its master (the same zero-drop settings as A)
 *
 * Registrator is not in the comparison: the Go module proxy refuses github.com/gliderlabs/registrator
 * (403), so it cannot be built here. Switchyard's register role registers the containers for both
 * sides; consul-template reads the same registrations. Its daemon figures therefore cover
 * consul-template alone, and Switchyard's cover registering and rendering together.
 *
 * Measured, for each side:
 *   - Consul change → served: a new passing instance registered through the agent API (no check, so
 *     passing at once) until a response from it comes through the proxy; p50/p99 over --changes rounds;
 *   - KV switch → traffic turned: SwitchControl.switchTo() (what `switchyard switch` calls) returns,
 *     until --confirm consecutive probe answers (new connection each) are the new color; p50/p99;
 *   - reloads per burst of --burst container starts (Switchyard's /metrics; consul-template's reload
 *     script counts its runs);
 *   - failed requests of the same load on each proxy (bench/lib/load.ts, its own process per proxy);
 *   - RSS (idle, after the burst) and CPU seconds over the measured work of each daemon, of its reaped
 *     children (Switchyard: `haproxy -c`; consul-template: the reload script), and of each HAProxy.
 * Then the ratios.
 *
 *   eval "$(bash scripts/provision.sh)"; eval "$(bash scripts/provision-bench.sh)"
 *   npm run build && node dist/bench/compare-consul-template.js
 *   # options: --switches 20 --changes 20 --burst 50 --parallel 8 --rate 400 (per proxy) --keepalive 16
 *   #   --fresh 4 --idle 10 (s) --confirm 5 --node-options "<flags for the daemon's node>" --bound 20 (min)
 *
 * Isolation on a shared dockerd: containers carry a color label of their own and the daemon renders
 * only this service; everything started is ended by handle, every container removed by id.
 */
import { TestContainers } from '../test/helpers/docker.js';
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConsulHttpClient } from '../src/consul/consul-http-client.js';
import { createLogger } from '../src/log/logger.js';
import { META_COLOR } from '../src/registrar/meta-keys.js';
import { SwitchControl } from '../src/switch/switch-control.js';
import type { LoadSummary } from './lib/load.js';
import { LoadProcess } from './lib/load-process.js';
import { benchOptions } from './lib/options.js';
import { procSample, treeSample, type ProcSample } from './lib/proc.js';
import {
  builtCli,
  findBinary,
  freePort,
  metricSum,
  probe,
  scrapeMetrics,
  sleep,
  Stack,
  waitFor,
  waitQuiet,
} from './lib/stack.js';
import { summarize, type Summary } from './lib/stats.js';
import { appRunner, KV_PREFIX, passingByColor, putLive, SERVICE, startSwitchyardSide } from './lib/switchyard-side.js';

// ---------------------------------------------------------------- options

const opts = benchOptions('compare-consul-template', [
  'switches',
  'changes',
  'burst',
  'parallel',
  'rate',
  'keepalive',
  'fresh',
  'idle',
  'confirm',
  'node-options',
  'bound',
]);
const SWITCHES = opts.int('switches', 20, 2, 500);
const CHANGES = opts.int('changes', 20, 1, 200);
const BURST = opts.int('burst', 50, 0, 200);
const PARALLEL = opts.int('parallel', 8, 1, 32);
const RATE = opts.int('rate', 400, 0, 10_000);
const KEEPALIVE = opts.int('keepalive', 16, 0, 200);
const FRESH = opts.int('fresh', 4, 0, 200);
const IDLE_S = opts.int('idle', 10, 1, 600);
const CONFIRM = opts.int('confirm', 5, 1, 100);
const BOUND_MIN = opts.int('bound', 20, 1, 120);
const NODE_OPTIONS = (opts.get('node-options') ?? '').split(/\s+/).filter(Boolean);
const DEADLINE = Date.now() + BOUND_MIN * 60_000;

const TAG = `swct${process.pid}`;
const COLOR_LABEL = `${TAG}-color`;
const CLI = builtCli();
const TEMPLATE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bench/anchor/haproxy.ctmpl');
const CT_BIN = process.env.SWITCHYARD_CONSUL_TEMPLATE_BIN;
if (!CT_BIN || !existsSync(CT_BIN))
  throw new Error('SWITCHYARD_CONSUL_TEMPLATE_BIN is not set or missing: eval "$(bash scripts/provision-bench.sh)"');

let interrupted: string | undefined;
process.once('SIGINT', () => (interrupted = 'SIGINT'));
process.once('SIGTERM', () => (interrupted = 'SIGTERM'));
const checkDeadline = () => {
  if (!interrupted && Date.now() > DEADLINE) interrupted = `over the --bound of ${BOUND_MIN} min`;
  if (interrupted) throw new Error(`stopping: ${interrupted}`);
};

type Side = 'switchyard' | 'consul-template';
const SIDES: readonly Side[] = ['switchyard', 'consul-template'];

/** Sequential GETs through one proxy, each on a new connection; keeps every answer. */
class Prober {
  readonly answers: { at: number; color?: string }[] = [];
  private running = true;
  private readonly done: Promise<void>;
  constructor(port: number) {
    this.done = (async () => {
      while (this.running) {
        const a = await probe(port, false);
        this.answers.push({ at: a.at, ...(a.color ? { color: a.color } : {}) });
        await sleep(5);
      }
    })();
  }
  /** Index of the first of CONFIRM consecutive `color` answers at or after `from`. */
  flipped(from: number, color: string): number | undefined {
    let run = 0;
    for (let i = from; i < this.answers.length; i++) {
      run = this.answers[i]!.color === color ? run + 1 : 0;
      if (run >= CONFIRM) return i - CONFIRM + 1;
    }
    return undefined;
  }
  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

interface Usage {
  daemon: ProcSample;
  proxy: ProcSample;
}

async function main(): Promise<void> {
  const stack = new Stack(TAG);
  const containers = new TestContainers();
  const loads: LoadProcess[] = [];
  let consul: ConsulHttpClient | undefined;
  try {
    const consulAddr = await stack.consul();
    const consulUrl = `http://${consulAddr}`;
    const haproxy = findBinary('haproxy', 'SWITCHYARD_HAPROXY_BIN');
    const ports = { switchyard: await freePort(), 'consul-template': await freePort() };
    const dir = stack.dir;

    const app = appRunner(containers, TAG, COLOR_LABEL);
    for (const v of ['b1', 'b2']) await app('blue', v);
    for (const v of ['g1', 'g2']) await app('green', v);
    // Spares for "Consul change → served": running, ignored by the registrar, registered by this bench.
    const spares: { version: string; ip: string }[] = [];
    for (let i = 1; i <= CHANGES; i++) {
      await app('blue', `s${i}`, ['-l', 'SERVICE_IGNORE=true']);
      spares.push({ version: `s${i}`, ip: '' });
    }
    await fillSpareIps(spares, TAG);

    // The state key both sides read, blue live, as `consul kv put` writes it.
    await putLive(consulUrl, 'blue');
    consul = new ConsulHttpClient({ address: consulAddr });
    const control = new SwitchControl({
      consul,
      kvPrefix: KV_PREFIX,
      logger: createLogger({ level: 'warn', json: true, stream: process.stderr }),
    });

    // ------------------------------------------------------------ Switchyard → HAProxy A
    const sy = await startSwitchyardSide(stack, {
      tag: TAG,
      colorLabel: COLOR_LABEL,
      consulAddr,
      cli: CLI,
      nodeOptions: NODE_OPTIONS,
      live: 'blue',
    });
    const { daemon, metricsUrl } = sy;
    ports.switchyard = sy.mainPort;
    await waitFor(
      '2 passing blue and 2 passing green instances in Consul',
      async () => {
        const p = await passingByColor(consulUrl);
        return (p.blue ?? 0) >= 2 && (p.green ?? 0) >= 2;
      },
      90_000,
      200,
    );

    // ------------------------------------------------------------ consul-template → HAProxy B
    const ctConfig = path.join(dir, 'haproxy-ct.cfg');
    const ctPid = path.join(dir, 'haproxy-ct.pid');
    const reloadLog = path.join(dir, 'ct-reloads.log');
    const reloadScript = path.join(dir, 'ct-reload.sh');
    writeFileSync(reloadLog, '');
    // What a consul-template user runs: count the reload, then SIGUSR2 to the HAProxy master.
    writeFileSync(
      reloadScript,
      `#!/bin/sh\necho reload >> ${reloadLog}\n[ -f ${ctPid} ] && kill -USR2 "$(cat ${ctPid})"\nexit 0\n`,
    );
    const ctArgs = [
      '-consul-addr',
      consulAddr,
      '-template',
      `${TEMPLATE}:${ctConfig}:/bin/sh ${reloadScript}`,
      '-wait',
      '250ms:1s',
      '-log-level',
      'warn',
    ];
    const ct = stack.spawn('consul-template', CT_BIN!, ctArgs, {
      ...process.env,
      BENCH_SERVICE: SERVICE,
      BENCH_KV_PREFIX: KV_PREFIX,
      BENCH_PORT: String(ports['consul-template']),
      BENCH_ADMIN_SOCKET: path.join(dir, 'admin-ct.sock'),
    });
    await waitFor(
      'consul-template’s first config with blue servers',
      () => {
        if (ct.exited) throw new Error(`consul-template exited: ${ct.output.slice(-2000)}`);
        return existsSync(ctConfig) && /server \S+ \S+:8080/.test(readFileSync(ctConfig, 'utf8'));
      },
      30_000,
      100,
    ).catch(async (err: Error) => {
      const cfg = existsSync(ctConfig) ? readFileSync(ctConfig, 'utf8').slice(-1500) : '(none)';
      const kv = await (await fetch(`${consulUrl}/v1/kv/${KV_PREFIX}/services/${SERVICE}/state?raw`)).text();
      throw new Error(
        `${err.message}; consul-template said: ${ct.output.slice(-1500)}; state ${kv}; its config: ${cfg}`,
      );
    });
    const proxyB = stack.spawn('haproxy B', haproxy, ['-W', '-f', ctConfig, '-p', ctPid]);
    for (const side of SIDES)
      await waitFor(
        `blue served through ${side}’s HAProxy`,
        async () => {
          for (const p of [sy.proxy, proxyB])
            if (p.exited) throw new Error(`${p.name} exited: ${p.output.slice(-2000)}`);
          return (await probe(ports[side], false)).color === 'blue';
        },
        30_000,
        100,
      );
    const pids = {
      switchyard: { daemon: daemon.child.pid!, proxy: () => masterPid(sy.proxyPidFile) },
      'consul-template': { daemon: ct.child.pid!, proxy: () => masterPid(ctPid) },
    };
    const usage = (side: Side): Usage => ({
      daemon: procSample(pids[side].daemon) ?? zero(),
      proxy: treeSample(pids[side].proxy()) ?? zero(),
    });

    // ------------------------------------------------------------ load on both proxies, then idle
    for (const side of SIDES)
      loads.push(
        new LoadProcess({
          url: `http://127.0.0.1:${ports[side]}/`,
          durationMs: 30 * 60_000,
          keepAlive: KEEPALIVE,
          fresh: FRESH,
          rate: RATE,
          bucketMs: 100,
        }),
      );
    await Promise.all(loads.map((l) => l.waitForOnly('blue', 5, 30_000)));
    const reloadsCt = () => readFileSync(reloadLog, 'utf8').split('\n').filter(Boolean).length;
    await sleep(IDLE_S * 1000);
    const idle = { switchyard: usage('switchyard'), 'consul-template': usage('consul-template') };
    const m0 = await scrapeMetrics(metricsUrl);
    const ct0 = reloadsCt();
    console.error(`idle sampled after ${IDLE_S}s; switching ${SWITCHES} times`);

    // ------------------------------------------------------------ KV switch → traffic turned
    const probers = {
      switchyard: new Prober(ports.switchyard),
      'consul-template': new Prober(ports['consul-template']),
    };
    const switchMs: Record<Side, number[]> = { switchyard: [], 'consul-template': [] };
    try {
      for (let k = 0; k < SWITCHES; k++) {
        checkDeadline();
        const target = k % 2 === 0 ? 'green' : 'blue';
        const from = {
          switchyard: probers.switchyard.answers.length,
          'consul-template': probers['consul-template'].answers.length,
        };
        const r = await control.switchTo(SERVICE, target, { minPassing: 1, force: false, by: 'bench' });
        if (!r.changed) throw new Error(`switch to ${target} changed nothing: ${r.message}`);
        const returned = Date.now();
        for (const side of SIDES) {
          const i = await waitFor(
            `${side} to turn ${target} after switch ${k + 1}`,
            () => probers[side].flipped(from[side], target),
            30_000,
            2,
          );
          switchMs[side].push(Math.max(0, probers[side].answers[i]!.at - returned));
        }
        await sleep(500);
      }
    } finally {
      await Promise.all(SIDES.map((s) => probers[s].stop()));
    }
    const live = SWITCHES % 2 === 0 ? 'blue' : 'green';

    // ------------------------------------------------------------ Consul change → served
    console.error(`switches done; ${CHANGES} Consul changes`);
    const changeMs: Record<Side, number[]> = { switchyard: [], 'consul-template': [] };
    const agents = {
      switchyard: new http.Agent({ keepAlive: true, maxSockets: 2 }),
      'consul-template': new http.Agent({ keepAlive: true, maxSockets: 2 }),
    };
    for (const spare of spares) {
      checkDeadline();
      const id = `${TAG}-${spare.version}`;
      const seen: Partial<Record<Side, number>> = {};
      let probing = true;
      const loops = SIDES.flatMap((side) =>
        [0, 1].map(async () => {
          while (probing && seen[side] === undefined) {
            const a = await probe(ports[side], agents[side]);
            if (a.rest?.split(' ')[0] === spare.version) seen[side] ??= a.at;
            await sleep(a.failure ? 10 : 1);
          }
        }),
      );
      const reg = await fetch(`${consulUrl}/v1/agent/service/register`, {
        method: 'PUT',
        body: JSON.stringify({ ID: id, Name: SERVICE, Address: spare.ip, Port: 8080, Meta: { [META_COLOR]: live } }),
      });
      if (!reg.ok) throw new Error(`registering ${id}: HTTP ${reg.status} ${await reg.text()}`);
      const registered = Date.now();
      try {
        await waitFor(
          `${spare.version} served by both proxies`,
          () => seen.switchyard !== undefined && seen['consul-template'] !== undefined,
          30_000,
          5,
        );
      } finally {
        probing = false;
        await Promise.all(loops);
      }
      for (const side of SIDES) changeMs[side].push(Math.max(0, seen[side]! - registered));
      await fetch(`${consulUrl}/v1/agent/service/deregister/${id}`, { method: 'PUT' });
      // Both sides drop it (consul-template after its quiet period and a reload) before the next round.
      await sleep(2_000);
    }
    for (const a of Object.values(agents)) a.destroy();

    // ------------------------------------------------------------ a burst of container starts
    const b0 = await scrapeMetrics(metricsUrl);
    const ctb0 = reloadsCt();
    let burst:
      { switchyardReloads: number; switchyardRuntime: number; ctReloads: number; dockerMs: number } | undefined;
    if (BURST > 0) {
      console.error(`Consul changes done; a burst of ${BURST} containers`);
      const versions = Array.from({ length: BURST }, (_, i) => `x${i + 1}`);
      let next = 0;
      const started = Date.now();
      await Promise.all(
        Array.from({ length: PARALLEL }, async () => {
          while (next < versions.length) {
            checkDeadline();
            await app(live, versions[next++]!);
          }
        }),
      );
      const dockerMs = Date.now() - started;
      await waitFor(
        `all ${BURST} burst instances passing in Consul`,
        async () => ((await passingByColor(consulUrl))[live] ?? 0) >= 2 + BURST,
        180_000,
        250,
      ).catch(() => undefined);
      // Until both sides are quiet: no render, reload or Runtime API update and no consul-template reload for 3 s.
      await waitQuiet(metricsUrl, reloadsCt);
      const b1 = await scrapeMetrics(metricsUrl);
      burst = {
        switchyardReloads: metricSum(b1, 'switchyard_reloads_total') - metricSum(b0, 'switchyard_reloads_total'),
        switchyardRuntime:
          metricSum(b1, 'switchyard_runtime_updates_total') - metricSum(b0, 'switchyard_runtime_updates_total'),
        ctReloads: reloadsCt() - ctb0,
        dockerMs,
      };
    }
    const after = { switchyard: usage('switchyard'), 'consul-template': usage('consul-template') };
    const m1 = await scrapeMetrics(metricsUrl);
    const summaries = await Promise.all(loads.map((l) => l.stop()));
    loads.length = 0;
    const loadBy: Record<Side, LoadSummary> = { switchyard: summaries[0]!, 'consul-template': summaries[1]! };

    report({
      idle,
      after,
      switchMs,
      changeMs,
      burst,
      loadBy,
      switchyardReloadsTotal: metricSum(m1, 'switchyard_reloads_total') - metricSum(m0, 'switchyard_reloads_total'),
      ctReloadsTotal: reloadsCt() - ct0,
    });
  } finally {
    for (const l of loads) l.kill();
    await consul?.close().catch(() => undefined);
    await stack.close();
    await containers.removeAll();
  }
}

const zero = (): ProcSample => ({ rssKb: 0, cpuSelf: 0, cpuChildren: 0 });

function masterPid(pidFile: string): number {
  const pid = Number(readFileSync(pidFile, 'utf8').trim().split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no pid in ${pidFile}`);
  return pid;
}

/** Container IPs on the default bridge, from `docker inspect`. */
async function fillSpareIps(spares: { version: string; ip: string }[], tag: string): Promise<void> {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  for (const s of spares) {
    const { stdout } = await promisify(execFile)('docker', [
      'inspect',
      '-f',
      '{{.NetworkSettings.IPAddress}}',
      `${tag}-${s.version}`,
    ]);
    s.ip = stdout.trim();
    if (!s.ip) throw new Error(`no IP for ${tag}-${s.version}`);
  }
}

// ---------------------------------------------------------------- report

interface Results {
  idle: Record<Side, Usage>;
  after: Record<Side, Usage>;
  switchMs: Record<Side, number[]>;
  changeMs: Record<Side, number[]>;
  burst: { switchyardReloads: number; switchyardRuntime: number; ctReloads: number; dockerMs: number } | undefined;
  loadBy: Record<Side, LoadSummary>;
  switchyardReloadsTotal: number;
  ctReloadsTotal: number;
}

function report(r: Results): void {
  const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MB`;
  const s = (v: number) => `${v.toFixed(2)} s`;
  const ms = (v: number) => (Number.isNaN(v) ? '—' : `${Math.round(v)} ms`);
  const ratio = (ct: number, sy: number) => (sy > 0 && ct > 0 ? `${(ct / sy).toFixed(2)}×` : '—');
  const sum: Record<Side, { change: Summary; sw: Summary }> = {
    switchyard: { change: summarize(r.changeMs.switchyard), sw: summarize(r.switchMs.switchyard) },
    'consul-template': {
      change: summarize(r.changeMs['consul-template']),
      sw: summarize(r.switchMs['consul-template']),
    },
  };
  const cpu = (side: Side, what: 'daemon' | 'proxy', f: 'cpuSelf' | 'cpuChildren') =>
    r.after[side][what][f] - r.idle[side][what][f];
  const rows: [string, string, string, string][] = [];
  const row = (figure: string, ct: string, sy: string, rat: string) => rows.push([figure, ct, sy, rat]);
  row(
    'Consul change → served, p50',
    ms(sum['consul-template'].change.p50),
    ms(sum.switchyard.change.p50),
    ratio(sum['consul-template'].change.p50, sum.switchyard.change.p50),
  );
  row(
    'Consul change → served, p99',
    ms(sum['consul-template'].change.p99),
    ms(sum.switchyard.change.p99),
    ratio(sum['consul-template'].change.p99, sum.switchyard.change.p99),
  );
  row(
    'KV switch → traffic turned, p50',
    ms(sum['consul-template'].sw.p50),
    ms(sum.switchyard.sw.p50),
    ratio(sum['consul-template'].sw.p50, sum.switchyard.sw.p50),
  );
  row(
    'KV switch → traffic turned, p99',
    ms(sum['consul-template'].sw.p99),
    ms(sum.switchyard.sw.p99),
    ratio(sum['consul-template'].sw.p99, sum.switchyard.sw.p99),
  );
  if (r.burst)
    row(
      `reloads for a burst of ${BURST} starts`,
      String(r.burst.ctReloads),
      `${r.burst.switchyardReloads} (+ ${r.burst.switchyardRuntime} Runtime API updates)`,
      '',
    );
  row('reloads over the whole run', String(r.ctReloadsTotal), String(r.switchyardReloadsTotal), '');
  const lf = (side: Side) => `${r.loadBy[side].failed} of ${r.loadBy[side].requests}`;
  row('failed requests (same load on each proxy)', lf('consul-template'), lf('switchyard'), '');
  row(
    'daemon RSS, idle',
    mb(r.idle['consul-template'].daemon.rssKb),
    mb(r.idle.switchyard.daemon.rssKb),
    ratio(r.idle['consul-template'].daemon.rssKb, r.idle.switchyard.daemon.rssKb),
  );
  row(
    'daemon RSS, after the run',
    mb(r.after['consul-template'].daemon.rssKb),
    mb(r.after.switchyard.daemon.rssKb),
    ratio(r.after['consul-template'].daemon.rssKb, r.after.switchyard.daemon.rssKb),
  );
  row(
    'daemon CPU over the measured work',
    s(cpu('consul-template', 'daemon', 'cpuSelf')),
    s(cpu('switchyard', 'daemon', 'cpuSelf')),
    ratio(cpu('consul-template', 'daemon', 'cpuSelf'), cpu('switchyard', 'daemon', 'cpuSelf')),
  );
  row(
    'CPU of the daemon’s child processes',
    s(cpu('consul-template', 'daemon', 'cpuChildren')),
    s(cpu('switchyard', 'daemon', 'cpuChildren')),
    '',
  );
  row(
    'HAProxy master + workers CPU (incl. ended workers)',
    s(cpu('consul-template', 'proxy', 'cpuSelf') + cpu('consul-template', 'proxy', 'cpuChildren')),
    s(cpu('switchyard', 'proxy', 'cpuSelf') + cpu('switchyard', 'proxy', 'cpuChildren')),
    '',
  );
  row(
    'HAProxy RSS after the run (master + live workers)',
    mb(r.after['consul-template'].proxy.rssKb),
    mb(r.after.switchyard.proxy.rssKb),
    '',
  );

  console.log(
    `\ncompare-consul-template: ${SWITCHES} switches, ${CHANGES} Consul changes, burst ${BURST} (${PARALLEL} at a time); load per proxy ${KEEPALIVE} keep-alive + ${FRESH} new-connection clients at ${RATE} req/s; both sides --wait/-wait 250ms:1s; daemon node options: ${NODE_OPTIONS.join(' ') || '(none)'}`,
  );
  console.log('ratio = consul-template ÷ Switchyard (above 1: Switchyard is faster or lighter)\n');
  console.log('| figure | consul-template v0.33.0 | Switchyard | ratio |');
  console.log('|---|---|---|---|');
  for (const [f, a, b, c] of rows) console.log(`| ${f} | ${a} | ${b} | ${c} |`);
  for (const side of SIDES)
    console.log(
      `\n${side}: switch → traffic ${JSON.stringify(sum[side].sw)}; Consul change → served ${JSON.stringify(sum[side].change)}; load ${r.loadBy[side].rate} req/s, failures ${JSON.stringify(r.loadBy[side].failures)}`,
    );
}

try {
  await main();
} catch (err) {
  console.error(`compare-consul-template: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
}
process.exit(process.exitCode ?? 0);
