import { describe, expect, it } from '@jest/globals';
import { ConfigError, StateConflictError, SwitchRefusedError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log/logger.js';
import { SwitchControl } from '../../../src/switch/switch-control.js';
import { HISTORY_LIMIT, historyKey, rendererKey, stateKey } from '../../../src/domain/service-state.js';
import { FakeConsul, instance } from '../../helpers/fake-consul.js';

const opts = { minPassing: 1, force: false, by: 'alice@ops1' };

function setup() {
  const consul = new FakeConsul({ blocking: false });
  consul.setService('app', [instance('b1', 'blue'), instance('b2', 'blue'), instance('g1', 'green')]);
  let t = Date.parse('2030-01-01T00:00:00Z');
  const control = new SwitchControl({
    consul,
    kvPrefix: 'switchyard',
    logger: silentLogger(),
    now: () => new Date((t += 1000)),
  });
  const state = () => JSON.parse(consul.kv.get(stateKey('switchyard', 'app'))?.value ?? 'null');
  const history = () => JSON.parse(consul.kv.get(historyKey('switchyard', 'app'))?.value ?? '[]');
  return { consul, control, state, history };
}

describe('SwitchControl against a Consul KV with check-and-set', () => {
  it('switches, records who and why, and rolls back', async () => {
    const { control, state, history } = setup();
    const r = await control.switchTo('app', 'green', { ...opts, reason: 'release 42' });
    expect(r).toMatchObject({ changed: true, expect: { live: 'green' } });
    expect(state()).toMatchObject({ live: 'green', previous: 'blue', updatedBy: 'alice@ops1', reason: 'release 42' });
    expect(history()).toEqual([
      expect.objectContaining({ action: 'switch', from: 'blue', to: 'green', by: 'alice@ops1', reason: 'release 42' }),
    ]);

    await control.rollback('app', opts);
    expect(state()).toMatchObject({ live: 'blue', previous: 'green' });
    expect(history().map((e: { action: string }) => e.action)).toEqual(['switch', 'rollback']);
  });

  it('refuses and writes nothing when the target has no passing instance', async () => {
    const { consul, control } = setup();
    consul.setService('app', [instance('b1', 'blue'), instance('g1', 'green', 'critical')]);
    await expect(control.switchTo('app', 'green', opts)).rejects.toThrow(SwitchRefusedError);
    expect(consul.kv.size).toBe(0);
  });

  it('loses a race cleanly: the other writer’s state stays and the error names them', async () => {
    const { consul, control, state } = setup();
    consul.beforePut = (key) => {
      if (key.endsWith('/state')) {
        consul.beforePut = undefined;
        consul.putKv(key, JSON.stringify({ live: 'blue', updatedBy: 'bob@ops2', updatedAt: '2030-01-01T00:00:00Z' }));
      }
    };
    const err = await control.switchTo('app', 'green', opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateConflictError);
    expect((err as Error).message).toContain('set by bob@ops2');
    expect(state()).toMatchObject({ live: 'blue', updatedBy: 'bob@ops2' });
  });

  it('keeps the history bounded, newest last, and survives an unreadable history', async () => {
    const { consul, control, history } = setup();
    consul.putKv(historyKey('switchyard', 'app'), 'not json');
    for (let i = 0; i < HISTORY_LIMIT + 3; i++) await control.switchTo('app', i % 2 === 0 ? 'green' : 'blue', opts);
    const h = history();
    expect(h).toHaveLength(HISTORY_LIMIT);
    expect(h[h.length - 1]).toMatchObject({ to: (HISTORY_LIMIT + 2) % 2 === 0 ? 'green' : 'blue' });
  });

  it('replaces an invalid stored state on the next switch', async () => {
    const { consul, control, state } = setup();
    consul.putKv(stateKey('switchyard', 'app'), '{"live":"NOT A COLOR"}');
    await control.switchTo('app', 'green', opts);
    expect(state()).toMatchObject({ live: 'green', previous: 'blue' });
  });

  it('finds the only service, and asks for --service when there are several or none', async () => {
    const { consul, control } = setup();
    expect(await control.resolveService(undefined)).toBe('app');
    consul.setService('web', [instance('w1', 'green')]);
    consul.setService('plain', [instance('p1', undefined)]);
    await expect(control.resolveService(undefined)).rejects.toThrow(
      new ConfigError('several services are deployed in colors (app, web); name one with --service'),
    );
    expect(await control.resolveService('web')).toBe('web');
    const empty = new SwitchControl({
      consul: new FakeConsul({ blocking: false }),
      kvPrefix: 'x',
      logger: silentLogger(),
    });
    await expect(empty.resolveService(undefined)).rejects.toThrow(ConfigError);
  });

  it('waits until every render host reports the new live color', async () => {
    const { consul, control } = setup();
    const report = (node: string, live: string) =>
      consul.putKv(
        rendererKey('switchyard', node),
        JSON.stringify({ node, at: new Date().toISOString(), services: { app: { live } } }),
      );
    report('lb1', 'green');
    report('lb2', 'blue');
    const progress: string[] = [];
    let reads = 0;
    const done = await control.waitForRenderers('app', { live: 'green' }, 5_000, (p) => {
      progress.push(p.hosts.map((h) => `${h.node}:${h.live}`).join(','));
      if (++reads === 1) report('lb2', 'green');
    });
    expect(done.done).toBe(true);
    expect(progress).toEqual(['lb1:green,lb2:blue', 'lb1:green,lb2:green']);
  });

  it('gives up waiting at the timeout', async () => {
    const { consul, control } = setup();
    consul.putKv(
      rendererKey('switchyard', 'lb1'),
      JSON.stringify({ node: 'lb1', at: 'x', services: { app: { live: 'blue' } } }),
    );
    const started = Date.now();
    const p = await control.waitForRenderers('app', { live: 'green' }, 300, () => undefined);
    expect(p.done).toBe(false);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('reports status per service: live, idle, instances by color, weights, last change, render hosts', async () => {
    const { consul, control } = setup();
    consul.setService('app', [
      instance('b1', 'blue'),
      instance('b2', 'blue', 'critical'),
      instance('g1', 'green'),
      instance('x', undefined),
    ]);
    await control.canary('app', 'green', 20, opts);
    consul.putKv(
      rendererKey('switchyard', 'lb1'),
      JSON.stringify({ node: 'lb1', at: 'x', services: { app: { live: 'blue' } } }),
    );
    const [s] = await control.status();
    expect(s).toMatchObject({
      service: 'app',
      live: 'blue',
      idle: 'green',
      liveStored: true,
      weights: { blue: 80, green: 20 },
      uncolored: 1,
      lastChange: expect.objectContaining({ action: 'canary', to: 'green' }),
      renderers: [expect.objectContaining({ node: 'lb1', inSync: false })],
    });
    expect(s!.colors.map((c) => [c.color, c.passing, c.total])).toEqual([
      ['blue', 1, 2],
      ['green', 1, 1],
    ]);
  });
});
