/**
 * The fault soak (docs/reliability.md): churn, load and one fault at a fixed interval in rotation,
 * with the invariants counted (bench/lib/soak.ts). Runs on its OWN dockerd (it restarts it).
 *
 *   npm run build && node dist/bench/soak.js --minutes 30
 *   # options: --minutes 30, --containers 100, --services 6, --fault-interval 60 (s), --settle 30 (s),
 *   #   --threshold 5 (s), --consul-stop 20 (s), --load 4, --churn-workers 2, --churn-pause 400 (ms),
 *   #   --json FILE (the full report), --daemon-log FILE (switchyard's log lines)
 *
 * Exits 1 when any counter that must be 0 is not.
 */
import { writeFileSync } from 'node:fs';
import { formatReport, runSoak } from './lib/soak.js';
import { builtCli } from './lib/stack.js';

function num(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} needs a number`);
  return v;
}
function str(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const controller = new AbortController();
for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => controller.abort());

const report = await runSoak(
  {
    durationMs: num('minutes', 30) * 60_000,
    containers: num('containers', 100),
    services: num('services', 6),
    faultIntervalMs: num('fault-interval', 60) * 1000,
    settleMs: num('settle', 30) * 1000,
    thresholdMs: num('threshold', 5) * 1000,
    consulStopMs: num('consul-stop', 20) * 1000,
    loadClients: num('load', 4),
    churnWorkers: num('churn-workers', 2),
    churnPauseMs: num('churn-pause', 400),
    cli: builtCli(),
    log: (l) => process.stderr.write(`${new Date().toISOString()} ${l}\n`),
    ...(str('daemon-log') ? { daemonLog: str('daemon-log')! } : {}),
  },
  controller.signal,
);
const json = str('json');
if (json) writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
process.stdout.write(`${formatReport(report)}\n`);
const c = report.counters;
const bad =
  c.ghosts +
  c.missing +
  c.rejectedConfigsInstalled +
  c.servedNotPassing +
  c.failedRequestsOutsideFaults +
  c.switchesNotServed;
process.exit(bad === 0 ? 0 : 1);
