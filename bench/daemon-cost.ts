/**
 * What `switchyard run` costs (issue 10, item 6: RSS ≤ 60 MB idle, CPU no more than the peers'), for
 * several builds or Node flag sets in one run, one after the other, each on a fresh stack: a
 * throw-away `consul agent -dev`, 2 blue + 2 green app containers, `switchyard run` (register + render)
 * and the HAProxy it drives (bench/lib/switchyard-side.ts). Per variant:
 *   - RSS and V8 heap (from its /metrics) after --idle seconds with nothing changing, and its CPU
 *     over those seconds;
 *   - --switches KV switches (the state key written as `consul kv put` does), each until served;
 *   - a burst of --burst container starts of the live color, until the daemon is quiet;
 *   - RSS and heap after that, CPU seconds of the daemon and of its child processes (`haproxy -c`)
 *     and its GC pauses over the switches and the burst.
 * Each phase's start is printed as a CLOCK_MONOTONIC mark: with `--cpu-prof --cpu-prof-dir=DIR` among a
 * variant's node flags, bench/cpu-profile-summary.ts splits the daemon's profile by phase.
 *
 *   npm run build && node dist/bench/daemon-cost.js
 *   # --variant 'label=<path to dist/src/cli/main.js>[ node flags…]' (repeatable, no = in the label; default: this build
 *   #   with no flags, and with --max-semi-space-size=1), --idle 15, --switches 10, --burst 50,
 *   #   --parallel 8, --bound 30 (minutes)
 *   # The build before a change, for a before/after in the same run:
 *   #   git worktree add --detach /tmp/sy-before <commit> && ln -s "$PWD/node_modules" /tmp/sy-before/
 *   #   (cd /tmp/sy-before && npx tsc -p tsconfig.build.json)
 *   #   node dist/bench/daemon-cost.js --variant 'before=/tmp/sy-before/dist/src/cli/main.js' --variant "after=$PWD/dist/src/cli/main.js"
 */
import { TestContainers } from '../test/helpers/docker.js';
import { benchOptions } from './lib/options.js';
import { procSample, type ProcSample } from './lib/proc.js';
import { builtCli, metricSum, probe, scrapeMetrics, sleep, Stack, waitFor, waitQuiet } from './lib/stack.js';
import { appRunner, passingByColor, putLive, startSwitchyardSide } from './lib/switchyard-side.js';

const opts = benchOptions('daemon-cost', ['variant', 'idle', 'switches', 'burst', 'parallel', 'bound']);
const IDLE_S = opts.int('idle', 15, 1, 600);
const SWITCHES = opts.int('switches', 10, 0, 200);
const BURST = opts.int('burst', 50, 0, 200);
const PARALLEL = opts.int('parallel', 8, 1, 32);
const BOUND_MIN = opts.int('bound', 30, 1, 180);
const DEADLINE = Date.now() + BOUND_MIN * 60_000;

interface Variant {
  label: string;
  cli: string;
  nodeOptions: string[];
}
const VARIANTS: Variant[] = (
  opts.all('variant').length
    ? opts.all('variant')
    : [`this build=${builtCli()}`, `this build, 1 MB semi-space=${builtCli()} --max-semi-space-size=1`]
).map((v) => {
  const eq = v.indexOf('=');
  if (eq <= 0) throw new Error(`--variant expects 'label=<main.js>[ node flags]', got "${v}"`);
  const [cli, ...nodeOptions] = v
    .slice(eq + 1)
    .split(/\s+/)
    .filter(Boolean);
  if (!cli) throw new Error(`--variant "${v}" names no main.js`);
  return { label: v.slice(0, eq), cli, nodeOptions };
});

let interrupted: string | undefined;
process.once('SIGINT', () => (interrupted = 'SIGINT'));
process.once('SIGTERM', () => (interrupted = 'SIGTERM'));
const checkDeadline = () => {
  if (!interrupted && Date.now() > DEADLINE) interrupted = `over the --bound of ${BOUND_MIN} min`;
  if (interrupted) throw new Error(`stopping: ${interrupted}`);
};

interface Result {
  variant: Variant;
  idle: ProcSample;
  /** Daemon CPU while nothing changed, ms per second. */
  idleCpuMsPerS: number;
  idleHeapMb: number;
  after: ProcSample;
  afterHeapMb: number;
  reloads: number;
  runtimeUpdates: number;
  /** V8's GC pauses over the work (prom-client's default metrics): seconds and count. */
  gcSeconds: number;
  gcCount: number;
}

/**
 * Where each phase starts, on CLOCK_MONOTONIC in µs: the clock of V8's profile timestamps, so a
 * variant run with --cpu-prof can be cut into phases (bench/cpu-profile-summary.ts --mark).
 */
const mark = (variant: Variant, phase: string) =>
  console.error(`daemon-cost: ${variant.label}: --mark ${phase}=${process.hrtime.bigint() / 1000n}`);

const GC_SUM = 'switchyard_nodejs_gc_duration_seconds_sum';
const GC_COUNT = 'switchyard_nodejs_gc_duration_seconds_count';

const heapMb = async (url: string) =>
  metricSum(await scrapeMetrics(url), 'switchyard_nodejs_heap_size_used_bytes') / 1e6;

async function measure(variant: Variant, n: number): Promise<Result> {
  const tag = `swdc${process.pid}-${n}`;
  const colorLabel = `${tag}-color`;
  const stack = new Stack(tag);
  const containers = new TestContainers();
  try {
    const consulAddr = await stack.consul();
    const consulUrl = `http://${consulAddr}`;
    const app = appRunner(containers, tag, colorLabel);
    for (const v of ['b1', 'b2']) await app('blue', v);
    for (const v of ['g1', 'g2']) await app('green', v);
    await putLive(consulUrl, 'blue');
    const side = await startSwitchyardSide(stack, {
      tag,
      colorLabel,
      consulAddr,
      cli: variant.cli,
      nodeOptions: variant.nodeOptions,
      live: 'blue',
    });
    await waitFor(
      '2 passing blue and 2 passing green instances',
      async () => {
        const p = await passingByColor(consulUrl);
        return (p.blue ?? 0) >= 2 && (p.green ?? 0) >= 2;
      },
      60_000,
      200,
    );
    await waitQuiet(side.metricsUrl);
    mark(variant, 'idle');
    const pid = side.daemon.child.pid!;
    const idleStart = procSample(pid)!;
    await sleep(IDLE_S * 1000);
    const idle = procSample(pid)!;
    const idleHeapMb = await heapMb(side.metricsUrl);
    const m0 = await scrapeMetrics(side.metricsUrl);
    mark(variant, 'switches');

    let live = 'blue';
    for (let k = 0; k < SWITCHES; k++) {
      checkDeadline();
      live = live === 'blue' ? 'green' : 'blue';
      await putLive(consulUrl, live);
      const target = live;
      let run = 0;
      await waitFor(
        `${target} served after switch ${k + 1}`,
        async () => {
          run = (await probe(side.mainPort, false)).color === target ? run + 1 : 0;
          return run >= 3;
        },
        30_000,
        5,
      );
      await sleep(300);
    }
    if (BURST > 0) {
      mark(variant, 'burst');
      const versions = Array.from({ length: BURST }, (_, i) => `x${i + 1}`);
      let next = 0;
      await Promise.all(
        Array.from({ length: PARALLEL }, async () => {
          while (next < versions.length) {
            checkDeadline();
            await app(live, versions[next++]!);
          }
        }),
      );
      await waitFor(
        `all ${BURST} burst instances passing`,
        async () => ((await passingByColor(consulUrl))[live] ?? 0) >= 2 + BURST,
        180_000,
        250,
      ).catch(() => undefined);
    }
    await waitQuiet(side.metricsUrl);
    mark(variant, 'after');
    const after = procSample(pid)!;
    const m1 = await scrapeMetrics(side.metricsUrl);
    return {
      variant,
      idle,
      idleCpuMsPerS: ((idle.cpuSelf - idleStart.cpuSelf) * 1000) / IDLE_S,
      idleHeapMb,
      after,
      afterHeapMb: metricSum(m1, 'switchyard_nodejs_heap_size_used_bytes') / 1e6,
      reloads: metricSum(m1, 'switchyard_reloads_total') - metricSum(m0, 'switchyard_reloads_total'),
      runtimeUpdates:
        metricSum(m1, 'switchyard_runtime_updates_total') - metricSum(m0, 'switchyard_runtime_updates_total'),
      gcSeconds: metricSum(m1, GC_SUM) - metricSum(m0, GC_SUM),
      gcCount: metricSum(m1, GC_COUNT) - metricSum(m0, GC_COUNT),
    };
  } finally {
    await stack.close();
    await containers.removeAll();
  }
}

console.log(
  `daemon-cost: ${VARIANTS.length} variants, each on a fresh stack; idle ${IDLE_S}s, ${SWITCHES} KV switches, a burst of ${BURST} (${PARALLEL} at a time)`,
);
const results: Result[] = [];
for (const [i, v] of VARIANTS.entries()) {
  try {
    checkDeadline();
    const r = await measure(v, i);
    results.push(r);
    console.error(`daemon-cost: ${v.label} done`);
  } catch (err) {
    console.error(`daemon-cost: ${v.label} failed: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 1;
    if (interrupted) break;
  }
}
const mb = (kb: number) => (kb / 1024).toFixed(1);
console.log(
  '\n| variant | node flags | RSS idle | heap used idle | CPU idle | RSS after switches + burst | heap used after | daemon CPU s (switches + burst) | child processes CPU s | reloads / Runtime API updates | GC pauses s (count) |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of results)
  console.log(
    `| ${r.variant.label} | ${r.variant.nodeOptions.join(' ') || '—'} | ${mb(r.idle.rssKb)} MB | ${r.idleHeapMb.toFixed(1)} MB | ${r.idleCpuMsPerS.toFixed(1)} ms/s | ${mb(r.after.rssKb)} MB | ${r.afterHeapMb.toFixed(1)} MB | ${(r.after.cpuSelf - r.idle.cpuSelf).toFixed(2)} | ${(r.after.cpuChildren - r.idle.cpuChildren).toFixed(2)} | ${r.reloads} / ${r.runtimeUpdates} | ${r.gcSeconds.toFixed(2)} (${r.gcCount}) |`,
  );
process.exit(process.exitCode ?? 0);
