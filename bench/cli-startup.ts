/**
 * How long a control command takes, start to exit (issue 10, item 6: ≤ 300 ms on an idle machine), for
 * several builds side by side, against a throw-away `consul agent -dev` holding one service with two
 * passing instances per color; with `consul kv put` (what a consul-template user runs to switch) as
 * the reference. Runs are interleaved (one of each variant in turn) so load on the machine hits every
 * variant alike. CPU is the child's user + system time (this process's reaped-children counters).
 *
 *   npm run build && node dist/bench/cli-startup.js
 *   # --variant 'label=<path to dist/src/cli/main.js>' (repeatable, no = in the label; default: this
 *   #   build), --runs 20, --no-cache-variant (also each variant with NODE_DISABLE_COMPILE_CACHE=1)
 *   # The build before a change: see bench/daemon-cost.ts's header.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { benchOptions } from './lib/options.js';
import { procSample } from './lib/proc.js';
import { builtCli, findBinary, Stack } from './lib/stack.js';
import { formatSummary, summarize } from './lib/stats.js';
import { KV_PREFIX, SERVICE } from './lib/switchyard-side.js';

const opts = benchOptions('cli-startup', ['variant', 'runs'], ['no-cache-variant']);
const RUNS = opts.int('runs', 20, 1, 1000);
const NO_CACHE = process.argv.includes('--no-cache-variant');

interface Variant {
  label: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

const cacheDir = mkdtempSync(path.join(tmpdir(), 'sy-cli-cache-'));
const builds = (opts.all('variant').length ? opts.all('variant') : [`this build=${builtCli()}`]).map((v) => {
  const eq = v.indexOf('=');
  if (eq <= 0) throw new Error(`--variant expects 'label=<main.js>', got "${v}"`);
  return { label: v.slice(0, eq), cli: v.slice(eq + 1) };
});

const stack = new Stack(`swcli${process.pid}`);
try {
  const consulAddr = await stack.consul();
  const url = `http://${consulAddr}`;
  for (const [color, n] of [
    ['blue', 1],
    ['blue', 2],
    ['green', 1],
    ['green', 2],
  ] as const) {
    const r = await fetch(`${url}/v1/agent/service/register`, {
      method: 'PUT',
      body: JSON.stringify({
        ID: `${SERVICE}-${color}-${n}`,
        Name: SERVICE,
        Address: '127.0.0.1',
        Port: 9000 + n,
        Meta: { color },
      }),
    });
    if (!r.ok) throw new Error(`registering: HTTP ${r.status}`);
  }
  await fetch(`${url}/v1/kv/${KV_PREFIX}/services/${SERVICE}/state`, {
    method: 'PUT',
    body: JSON.stringify({ live: 'blue' }),
  });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CONSUL_HTTP_ADDR: consulAddr,
    SWITCHYARD_LOG_FORMAT: 'json',
    NODE_COMPILE_CACHE: cacheDir,
  };
  delete env.NODE_OPTIONS;

  const variants: Variant[] = [];
  for (const b of builds) {
    variants.push({ label: b.label, command: process.execPath, args: [b.cli] });
    if (NO_CACHE)
      variants.push({
        label: `${b.label}, no compile cache`,
        command: process.execPath,
        args: [b.cli],
        env: { NODE_DISABLE_COMPILE_CACHE: '1' },
      });
  }
  const consulBin = findBinary('consul', 'SWITCHYARD_CONSUL_BIN');

  let invocation = 0;
  // Each command: the arguments per invocation k (switch alternates so every run changes something).
  const commands: { name: string; args: (k: number) => string[]; switchyard: boolean }[] = [
    {
      name: 'switch <color>',
      args: (k) => ['switch', k % 2 ? 'blue' : 'green', '--service', SERVICE, '--by', 'bench'],
      switchyard: true,
    },
    { name: 'status', args: () => ['status', '--service', SERVICE], switchyard: true },
    { name: 'status --json', args: () => ['status', '--json'], switchyard: true },
    { name: 'canary --help', args: () => ['canary', '--help'], switchyard: true },
    { name: '--version', args: () => ['--version'], switchyard: true },
    {
      name: 'consul kv put (reference)',
      args: (k) => ['kv', 'put', `-http-addr=${url}`, `bench/ref`, JSON.stringify({ live: k % 2 ? 'blue' : 'green' })],
      switchyard: false,
    },
  ];

  console.log(
    `cli-startup: ${RUNS} runs of each command per variant, interleaved; Node ${process.version}; compile cache in a fresh folder (the first run of each fills it)`,
  );
  console.log('\n| command | variant | wall p50 | wall p90 | wall max | CPU p50 |');
  console.log('|---|---|---|---|---|---|');
  for (const c of commands) {
    const rows = c.switchyard
      ? variants.map((v) => ({ label: v.label, cmd: v.command, pre: v.args, env: { ...env, ...v.env } }))
      : [{ label: 'consul CLI', cmd: consulBin, pre: [] as string[], env }];
    const wall = rows.map(() => [] as number[]);
    const cpu = rows.map(() => [] as number[]);
    for (let k = 0; k < RUNS; k++) {
      for (const [i, r] of rows.entries()) {
        invocation += 1;
        const before = procSample(process.pid)!.cpuChildren;
        const t0 = performance.now();
        const res = spawnSync(r.cmd, [...r.pre, ...c.args(invocation)], {
          env: r.env,
          encoding: 'utf8',
          timeout: 60_000,
        });
        const ms = performance.now() - t0;
        if (res.status !== 0)
          throw new Error(
            `${r.label} ${c.name} exited ${res.status}: ${res.stderr.slice(-500) || res.stdout.slice(-500)}`,
          );
        wall[i]!.push(ms);
        cpu[i]!.push((procSample(process.pid)!.cpuChildren - before) * 1000);
      }
    }
    for (const [i, r] of rows.entries()) {
      const w = summarize(wall[i]!);
      console.log(
        `| ${c.name} | ${r.label} | ${Math.round(w.p50)} ms | ${Math.round(w.p90)} ms | ${Math.round(w.max)} ms | ${Math.round(summarize(cpu[i]!).p50)} ms |`,
      );
      console.error(`  ${c.name} / ${r.label}: ${formatSummary(w, 'ms', 0)}`);
    }
  }
} finally {
  await stack.close();
  rmSync(cacheDir, { recursive: true, force: true });
}
