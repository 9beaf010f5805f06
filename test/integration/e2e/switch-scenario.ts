import { expect } from '@jest/globals';
import { LoadProcess } from '../../../bench/lib/load-process.js';
import type { LoadSummary } from '../../../bench/lib/load.js';
import { SwitchyardStack, type ProxyKind } from '../../helpers/switchyard-stack.js';

/**
 * The blue-green flow a user runs, end to end, under load from a separate process:
 * blue live → green deployed → `switchyard switch green` → blue removed → blue redeployed →
 * `switchyard rollback`. Real dockerd, Consul, proxy and `switchyard run` (register + render),
 * started by the stack bench/switch-under-load.ts uses too. App containers use the host network on
 * distinct ports, so the proxy reaches them on loopback without docker-proxy in the path.
 */
export interface ScenarioResult {
  summary: LoadSummary;
  switchAt: { start: number; done: number };
  rollbackAt: { start: number; done: number };
  daemonLog: string;
  metrics: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runSwitchScenario(kind: ProxyKind, log: (line: string) => void): Promise<ScenarioResult> {
  let stack: SwitchyardStack | undefined;
  let load: LoadProcess | undefined;
  try {
    stack = new SwitchyardStack({
      name: `sy-e2e-${kind}-${process.pid}`,
      proxy: kind,
      network: 'host',
      // A color label of its own: another daemon on the shared dockerd (default `color`) skips these apps.
      colorLabel: `sy-e2e-${process.pid}-color`,
      wait: '50ms:500ms',
      logFormat: 'text',
      env: { SWITCHYARD_KV_PREFIX: 'e2e', SWITCHYARD_BY: 'e2e@test' },
      // The whole log: the test looks for what the daemon said about the switch.
      keepLog: Number.POSITIVE_INFINITY,
    });
    const s = stack;
    await s.start();
    const blue = [await s.app('blue', 'blue-1'), await s.app('blue', 'blue-2')];
    await s.serve('blue', { blue: 2 });
    log(`${kind}: blue live on :${s.mainPort}, starting load`);

    load = new LoadProcess({
      url: s.mainUrl,
      durationMs: 240_000,
      keepAlive: 16,
      fresh: 4,
      // Paced above the 1,000 req/s the test asserts: a worker delayed by a slow answer does not catch up.
      rate: 1600,
    });
    await load.waitForOnly('blue', 10, 30_000);

    // Deploy green next to blue; it serves only on the preview port until the switch.
    const green = [await s.app('green', 'green-1'), await s.app('green', 'green-2')];
    await s.waitPassing({ green: 2 });
    await sleep(1500);
    const switchStart = Date.now();
    const sw = await s.cli(['switch', 'green', '--reason', 'e2e release', '--wait', '--timeout', '30s']);
    const switchDone = Date.now();
    log(
      `${kind}: switch exit ${sw.code} in ${switchDone - switchStart} ms: ${sw.stdout.trim()} ${sw.stderr.trim().split('\n').pop()}`,
    );
    expect(sw.code).toBe(0);
    await load.waitForOnly('green', 10, 30_000);

    // Tear blue down (graceful stop: the registrar drains on `kill`), then redeploy it.
    for (const id of blue) await s.containers.docker('stop', '-t', '5', id);
    for (const id of blue) await s.containers.remove(id);
    await sleep(3000);
    await s.app('blue', 'blue-3');
    await s.app('blue', 'blue-4');
    await s.waitPassing({ blue: 2 });
    await sleep(1500);
    const rollbackStart = Date.now();
    const rb = await s.cli(['rollback', '--reason', 'e2e rollback', '--wait', '--timeout', '30s']);
    const rollbackDone = Date.now();
    log(`${kind}: rollback exit ${rb.code} in ${rollbackDone - rollbackStart} ms: ${rb.stdout.trim()}`);
    expect(rb.code).toBe(0);
    await load.waitForOnly('blue', 10, 30_000);
    for (const id of green) await s.containers.docker('stop', '-t', '5', id);
    await sleep(2000);

    const summary = await load.stop();
    load = undefined;
    const metrics = await (await fetch(s.metricsUrl)).text();
    return {
      summary,
      switchAt: { start: switchStart, done: switchDone },
      rollbackAt: { start: rollbackStart, done: rollbackDone },
      daemonLog: s.daemonLog,
      metrics,
    };
  } catch (err) {
    log(
      `${kind}: scenario failed; daemon log tail:\n${stack?.daemonLog.slice(-4000) ?? ''}\nproxy log:\n${stack?.proxyLog.slice(-2000) ?? ''}`,
    );
    throw err;
  } finally {
    load?.kill();
    await stack?.close();
  }
}

/** The colors answered in each bucket, checked against when the switch and rollback happened. */
export function colorPhases(r: ScenarioResult): {
  beforeSwitch: Set<string>;
  afterSwitch: Set<string>;
  afterRollback: Set<string>;
} {
  const phase = (from: number, to: number) =>
    new Set(r.summary.timeline.filter((t) => t.t >= from && t.t + 100 <= to).flatMap((t) => Object.keys(t.colors)));
  return {
    beforeSwitch: phase(0, r.switchAt.start),
    afterSwitch: phase(r.switchAt.done + 1000, r.rollbackAt.start),
    afterRollback: phase(r.rollbackAt.done + 1000, Number.MAX_SAFE_INTEGER),
  };
}
