import { describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { formatReport, FAULTS, runSoak } from '../../../bench/lib/soak.js';
import { requireDocker } from '../../helpers/components.js';

/**
 * The short variant of the fault soak (bench/soak.ts, docs/reliability.md): every fault of the
 * rotation once, in about 5 minutes, under churn and load, with every invariant counted. Fewer
 * containers than the bench's 100 (40): on a 2-core CI machine with vfs storage a container start
 * costs ~0.8 s, and the run must stay short. Needs the built CLI (`npm run build`, as
 * scripts/test.sh does) and runs on its own dockerd (it restarts it).
 */
const CLI = path.resolve('dist/src/cli/main.js');

describe('fault soak (short)', () => {
  it('runs every fault once under churn and load: no ghost or missing registration past N, no rejected config installed, nothing served that is not passing, no failed request outside faults, the switch served', async () => {
    requireDocker();
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first (scripts/test.sh does)`);
    const report = await runSoak({
      // Every fault once, 30 s apart; the bound only stops a run that hangs.
      durationMs: 8 * 60_000,
      faultCount: FAULTS.length,
      containers: 40,
      services: 4,
      faultIntervalMs: 30_000,
      settleMs: 20_000,
      thresholdMs: 5_000,
      consulStopMs: 20_000,
      loadClients: 3,
      churnWorkers: 2,
      churnPauseMs: 500,
      cli: CLI,
      log: (l) => process.stdout.write(`soak: ${l}\n`),
    });
    process.stdout.write(`${formatReport(report)}\n`);
    // Every fault ran, in rotation.
    expect(report.faults.map((f) => f.fault)).toEqual([...FAULTS]);
    expect(report.faults.filter((f) => f.note.startsWith('fault failed'))).toEqual([]);
    // Every counter whose target is 0 (docs/reliability.md). Failed requests inside fault windows and
    // within 2 s of a churn SIGKILL are reported, not asserted: nothing can drain those.
    expect({
      ghosts: report.counters.ghosts,
      missing: report.counters.missing,
      rejectedConfigsInstalled: report.counters.rejectedConfigsInstalled,
      servedNotPassing: report.counters.servedNotPassing,
      failedRequestsOutsideFaults: report.counters.failedRequestsOutsideFaults,
      switchesNotServed: report.counters.switchesNotServed,
      // What each one was (which container, since when): a failure names it, not only the count.
      violations: report.violations,
      outsideFailures: report.outsideFailures,
    }).toEqual({
      ghosts: 0,
      missing: 0,
      rejectedConfigsInstalled: 0,
      servedNotPassing: 0,
      failedRequestsOutsideFaults: 0,
      switchesNotServed: 0,
      violations: [],
      outsideFailures: [],
    });
    // After every fault the daemon answered /healthz 200 again.
    expect(report.faults.filter((f) => f.note.includes('healthz not 200'))).toEqual([]);
    // The run did what it claims: load, churn, configs installed and checked.
    expect(report.requests.ok).toBeGreaterThan(1_000);
    expect(Object.values(report.churn).reduce((a, b) => a + b, 0)).toBeGreaterThan(50);
    expect(report.configsChecked).toBeGreaterThan(5);
  }, 600_000);
});
