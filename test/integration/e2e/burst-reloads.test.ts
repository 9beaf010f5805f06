import { afterEach, describe, expect, it } from '@jest/globals';
import { metricSum, probe, scrapeMetrics, waitQuiet } from '../../../bench/lib/stack.js';
import { waitFor } from '../../helpers/ports.js';
import { SwitchyardStack, type ProxyKind } from '../../helpers/switchyard-stack.js';

/**
 * A burst of container starts on the reload paths (nginx, HAProxy with --no-haproxy-runtime-api)
 * with the daemon's defaults (`--wait 250ms:1s`, `--growth-wait 2s:30s`): one new instance after a
 * quiet spell takes the normal wait; a burst of 16 starts, 8 at a time, costs at most two reloads
 * and every container is served through the proxy at the end (docs/rendering.md).
 */
const BURST = 16;
const PARALLEL = 8;
const GROWTH_LINE = 'more instances during a burst of changes';

let stack: SwitchyardStack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

const log = (l: string) => process.stdout.write(`${l}\n`);

async function reloads(s: SwitchyardStack): Promise<number> {
  return metricSum(await scrapeMetrics(s.metricsUrl), 'switchyard_reloads_total', 'outcome="ok"');
}

/** Until the daemon has rendered, reloaded and updated nothing for 3 s. */
async function quiet(s: SwitchyardStack): Promise<void> {
  if (!(await waitQuiet(s.metricsUrl, undefined, 3_000, 60_000)))
    throw new Error('the daemon never went quiet for 3 s');
}

/** Until every one of `versions` has answered through the proxy's main port (new connection each). */
async function served(s: SwitchyardStack, versions: readonly string[]): Promise<void> {
  const seen = new Set<string>();
  await waitFor(
    `${versions.length} containers answering through the proxy`,
    async () => {
      for (let i = 0; i < 20; i++) {
        const a = await probe(s.mainPort, false);
        const v = a.rest?.split(' ')[0];
        if (v) seen.add(v);
      }
      return versions.every((v) => seen.has(v));
    },
    120_000,
    10,
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}; not served: ${versions.filter((v) => !seen.has(v)).join(', ')}`);
  });
}

describe.each<[ProxyKind, string[]]>([
  ['nginx', []],
  ['haproxy', ['--no-haproxy-runtime-api']],
])('a burst of starts on the %s reload path', (kind, runArgs) => {
  it(`costs at most 2 reloads for ${BURST} starts; one start after a quiet spell takes the normal wait`, async () => {
    const name = `burst-it-${kind}-${process.pid}`;
    const s = new SwitchyardStack({
      name,
      proxy: kind,
      // Like bench/switch-under-load.ts: no SERVICE_NAME and a color label of its own, and the daemon
      // renders only this service, so other helpers' containers on the shared dockerd never reach
      // this proxy (on the host network, their `app` containers would be registered and served too).
      network: 'bridge',
      colorLabel: `${name}-color`,
      wait: '250ms:1s',
      logFormat: 'text',
      runArgs: [...runArgs, '--log-level', 'debug'],
      env: { SWITCHYARD_KV_PREFIX: 'burst-it' },
      keepLog: Number.POSITIVE_INFINITY,
    });
    stack = s;
    try {
      await s.start();
      await s.app('blue', 'b1');
      await s.app('blue', 'b2');
      await s.serve('blue', { blue: 2 });
      await quiet(s);

      // One new instance after a quiet spell: the normal wait, one reload.
      let logFrom = s.daemonLog.length;
      let r0 = await reloads(s);
      const t0 = Date.now();
      await s.app('blue', 'one');
      await served(s, ['one']);
      log(`${kind}: one start served ${Date.now() - t0} ms after docker run began`);
      await quiet(s);
      expect((await reloads(s)) - r0).toBe(1);
      expect(s.daemonLog.slice(logFrom)).not.toContain(GROWTH_LINE);

      // The burst.
      logFrom = s.daemonLog.length;
      r0 = await reloads(s);
      const versions = Array.from({ length: BURST }, (_, i) => `x${i + 1}`);
      const t1 = Date.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: PARALLEL }, async () => {
          while (next < versions.length) await s.app('blue', versions[next++]!);
        }),
      );
      const dockerMs = Date.now() - t1;
      await served(s, versions);
      const servedMs = Date.now() - t1;
      await quiet(s);
      const burstReloads = (await reloads(s)) - r0;
      log(`${kind}: burst of ${BURST}: docker ${dockerMs} ms, all served ${servedMs} ms, ${burstReloads} reloads`);
      expect(burstReloads).toBeGreaterThanOrEqual(1);
      expect(burstReloads).toBeLessThanOrEqual(2);
      expect(s.daemonLog.slice(logFrom)).toContain(GROWTH_LINE);
      // Still every one of them, after the last reload.
      await served(s, [...versions, 'one', 'b1', 'b2']);
    } catch (err) {
      log(`${kind} daemon log tail:\n${s.daemonLog.slice(-6000)}`);
      throw err;
    }
  }, 300_000);
});
