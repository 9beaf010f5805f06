import { describe, expect, it } from '@jest/globals';
import { RolloutExecutor } from '../../../src/rollout/executor.js';
import { DEFAULT_GATE, lockKey, newPlan, planKey, parsePlan } from '../../../src/rollout/plan.js';
import { silentLogger } from '../../../src/log/logger.js';
import { historyKey, stateKey } from '../../../src/domain/service-state.js';
import { FakeConsul, instance } from '../../helpers/fake-consul.js';
import { waitFor } from '../../helpers/ports.js';

function setup() {
  const consul = new FakeConsul();
  consul.setService('app', [instance('b1', 'blue'), instance('g1', 'green')]);
  consul.putKv(stateKey('sy', 'app'), JSON.stringify({ live: 'blue' }));
  const executor = (name: string) =>
    new RolloutExecutor({
      consul,
      kvPrefix: 'sy',
      logger: silentLogger(),
      node: () => Promise.resolve(name),
      lockDelayMs: 300,
      lockRetryMs: 50,
    });
  const plan = () => parsePlan(consul.kv.get(planKey('sy', 'app'))!.value);
  const state = () => JSON.parse(consul.kv.get(stateKey('sy', 'app'))!.value) as { live: string; weights?: object };
  const history = () =>
    JSON.parse(consul.kv.get(historyKey('sy', 'app'))?.value ?? '[]') as { action: string; by: string }[];
  return { consul, executor, plan, state, history };
}

describe('rollout executor', () => {
  it('runs rollouts of different services independently, each with its own lock', async () => {
    const { consul, executor } = setup();
    consul.setService('web', [
      instance('w1', 'blue', 'passing', { serviceName: 'web' }),
      instance('w2', 'green', 'passing', { serviceName: 'web' }),
    ]);
    consul.putKv(stateKey('sy', 'web'), JSON.stringify({ live: 'green' }));
    const a = executor('a');
    await a.start();
    try {
      const plan = (service: string, color: string, stable: string, steps: number[]) =>
        consul.putKv(
          planKey('sy', service),
          JSON.stringify(
            newPlan({
              service,
              color,
              stable,
              steps,
              intervalMs: 60_000,
              gate: DEFAULT_GATE,
              sticky: false,
              minPassing: 1,
              by: 'alice',
              now: new Date(),
            }),
          ),
        );
      plan('app', 'green', 'blue', [20, 60]);
      plan('web', 'blue', 'green', [100]);
      const st = (svc: string) =>
        JSON.parse(consul.kv.get(stateKey('sy', svc))!.value) as { live: string; weights?: object };
      // web completes at once (a single 100% step) while app waits at its first step for its check.
      await waitFor('web completed', async () => st('web').live === 'blue', 5000, 20);
      await waitFor('app at 20%', async () => JSON.stringify(st('app').weights) === '{"blue":80,"green":20}', 5000, 20);
      const p = parsePlan(consul.kv.get(planKey('sy', 'app'))!.value);
      expect(p.ok && p.value.phase).toBe('running');
      expect(consul.kv.get(lockKey('sy', 'app'))?.session).toBeDefined();
      await waitFor(
        'web lock released',
        async () => consul.kv.get(lockKey('sy', 'web'))?.session === undefined,
        5000,
        20,
      );
    } finally {
      await a.close();
    }
  });

  it('runs a plan on exactly one daemon, and another takes over after the lock-delay when it goes', async () => {
    const { consul, executor, plan, state, history } = setup();
    const a = executor('a');
    const b = executor('b');
    await a.start();
    await b.start();
    try {
      consul.putKv(
        planKey('sy', 'app'),
        JSON.stringify(
          newPlan({
            service: 'app',
            color: 'green',
            stable: 'blue',
            steps: [10, 50],
            intervalMs: 60_000,
            gate: DEFAULT_GATE,
            sticky: false,
            minPassing: 1,
            by: 'alice',
            now: new Date(),
          }),
        ),
      );
      await waitFor(
        'step 1 applied',
        async () => JSON.stringify(state().weights) === '{"blue":90,"green":10}',
        5000,
        20,
      );
      await waitFor(
        'plan marked applied',
        async () => plan().ok && (plan() as { value: { applied: number } }).value.applied === 0,
        5000,
        20,
      );
      const holder = consul.kv.get(lockKey('sy', 'app'))!;
      const first = JSON.parse(holder.value) as { by: string };
      expect(['rollout@a', 'rollout@b']).toContain(first.by);
      expect(history().map((e) => e.by)).toEqual([first.by, first.by]);

      // The holder goes; its session ends, and after the lock-delay the other one holds the plan.
      const [gone, other] = first.by === 'rollout@a' ? [a, 'rollout@b'] : [b, 'rollout@a'];
      const endedAt = Date.now();
      await gone.close();
      await waitFor(
        'the other daemon holds the lock',
        async () => consul.kv.get(lockKey('sy', 'app'))?.value.includes(other) ?? false,
        5000,
        20,
      );
      expect(Date.now() - endedAt).toBeGreaterThanOrEqual(250);
      // It continues from the step reached: nothing re-applied, nothing rewound.
      const p = plan();
      expect(p.ok && p.value.applied).toBe(0);
      expect(state().weights).toEqual({ blue: 90, green: 10 });

      // An operator's abort is carried out by the new holder.
      const stored = consul.kv.get(planKey('sy', 'app'))!;
      const v = JSON.parse(stored.value) as object;
      consul.putKv(
        planKey('sy', 'app'),
        JSON.stringify({ ...v, request: { action: 'abort', by: 'bob', at: new Date().toISOString() } }),
      );
      await waitFor(
        'aborted',
        async () => plan().ok && (plan() as { value: { phase: string } }).value.phase === 'aborted',
        5000,
        20,
      );
      expect(state()).toMatchObject({ live: 'blue' });
      expect(state().weights).toBeUndefined();
      expect(history().at(-1)).toMatchObject({ action: 'rollout-abort', by: other });
      await waitFor('lock released', async () => consul.kv.get(lockKey('sy', 'app'))?.session === undefined, 5000, 20);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
