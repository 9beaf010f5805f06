import { describe, expect, it } from '@jest/globals';
import type { AgentService, ServiceRegistration } from '../../../src/consul/consul-client.js';
import {
  drainReason,
  eventEffect,
  parseDrainReason,
  planContainer,
  servicesToGuard,
  type AgentView,
  type ContainerView,
  type PlanSettings,
  type RegistrarOp,
} from '../../../src/registrar/registration-plan.js';
import type { LiveColorView } from '../../../src/registrar/live-color-guard.js';
import { asAgentService } from '../../../src/registrar/service-diff.js';

const NOW = Date.parse('2026-12-01T12:00:00.000Z');
const settings: PlanSettings = { now: NOW, drainTimeoutMs: 600_000, healthRefreshMs: 6 * 3_600_000 };

function reg(id: string, o: Partial<ServiceRegistration> = {}): ServiceRegistration {
  return {
    id,
    name: 'web',
    tags: ['blue'],
    address: '127.0.0.1',
    port: 30001,
    meta: { switchyard_owner: 'node-a', container_id: 'c1', container_name: 'web-1', color: 'blue' },
    checks: [],
    ...o,
  };
}

function agent(owned: AgentService[], o: Partial<AgentView> = {}): AgentView {
  return {
    owner: 'node-a',
    owned: new Map(owned.map((s) => [s.id, s])),
    foreign: new Set(),
    maintenance: new Map(),
    health: new Map(),
    ...o,
  };
}

const container = (o: Partial<ContainerView> = {}): ContainerView => ({
  id: 'c1',
  running: true,
  desired: [reg('node-a:web-1:8080')],
  ...o,
});

const kinds = (ops: { kind: string }[]) => ops.map((o) => o.kind);

describe('planContainer', () => {
  it('registers what is missing, leaves what is equal alone, deregisters what it owns and no longer wants', () => {
    expect(kinds(planContainer(container(), agent([]), settings).ops)).toEqual(['register']);
    const held = asAgentService(reg('node-a:web-1:8080'));
    expect(planContainer(container(), agent([held]), settings).ops).toEqual([]);
    const stopped = planContainer(container({ running: false, desired: [] }), agent([held]), settings);
    expect(stopped.ops).toEqual([{ kind: 'deregister', service: held }]);
    expect(stopped.deregisterWhy).toBe('the container is not running');
    const changed = planContainer(
      container({ desired: [reg('node-a:web-1:8080', { port: 30002 })] }),
      agent([held]),
      settings,
    );
    expect(kinds(changed.ops)).toEqual(['register']);
  });

  it('a desired ID held by someone else is a conflict, never a write', () => {
    const plan = planContainer(container(), agent([], { foreign: new Set(['node-a:web-1:8080']) }), settings);
    expect(plan.ops).toEqual([{ kind: 'conflict', serviceId: 'node-a:web-1:8080' }]);
  });

  it('a stop signal drains every registered service once, with a reason that records when', () => {
    const held = asAgentService(reg('node-a:web-1:8080'));
    const since = NOW - 1_000;
    const plan = planContainer(container(), agent([held], { stopSignalAt: since }), settings);
    expect(plan.ops).toEqual([
      {
        kind: 'drain',
        serviceId: held.id,
        name: 'web',
        reason: 'switchyard: container is stopping (drain) since 2026-12-01T11:59:59.000Z',
      },
    ]);
    expect(plan.drainSince).toBe(since);
    // Already in maintenance: nothing more to do.
    const again = planContainer(
      container(),
      agent([held], { stopSignalAt: since, maintenance: new Map([[held.id, drainReason(since)]]) }),
      settings,
    );
    expect(again.ops).toEqual([]);
  });

  it('the drain is read back from the maintenance reason (a restarted Switchyard keeps it) until the container exits', () => {
    const held = asAgentService(reg('node-a:web-1:8080'));
    const since = NOW - 5_000;
    const maintenance = new Map([[held.id, drainReason(since)]]);
    const startedAt = NOW - 60_000;
    const stillStopping = planContainer(container({ startedAt }), agent([held], { maintenance }), settings);
    expect(stillStopping.ops).toEqual([]);
    expect(stillStopping.drainSince).toBe(since);
    const exited = planContainer(container({ running: false, desired: [] }), agent([held], { maintenance }), settings);
    expect(kinds(exited.ops)).toEqual(['deregister']);
  });

  it('a container started again after its drain is put back in rotation; maintenance set by hand is left alone', () => {
    const held = asAgentService(reg('node-a:web-1:8080'));
    const maintenance = new Map([[held.id, drainReason(NOW - 5_000)]]);
    const restarted = planContainer(container({ startedAt: NOW - 1_000 }), agent([held], { maintenance }), settings);
    expect(restarted.ops).toEqual([
      { kind: 'undrain', serviceId: held.id, name: 'web', reason: 'switchyard: container running again' },
    ]);
    const byHand = new Map([[held.id, 'kernel upgrade']]);
    expect(planContainer(container(), agent([held], { maintenance: byHand }), settings).ops).toEqual([]);
  });

  it('a container still running after the drain timeout is put back in rotation, whether the drain was seen or read back', () => {
    const held = asAgentService(reg('node-a:web-1:8080'));
    const since = NOW - 600_001;
    const maintenance = new Map([[held.id, drainReason(since)]]);
    for (const view of [agent([held], { maintenance, stopSignalAt: since }), agent([held], { maintenance })]) {
      const plan = planContainer(container({ startedAt: since - 1 }), view, settings);
      expect(plan.drainExpired).toBe(true);
      expect(plan.drainSince).toBeUndefined();
      expect(plan.ops).toEqual([
        {
          kind: 'undrain',
          serviceId: held.id,
          name: 'web',
          reason: 'switchyard: container still running after the drain timeout',
        },
      ]);
    }
  });

  it('Docker health: written when it changes or is due for a refresh, not otherwise', () => {
    const held = asAgentService(reg('node-a:web-1:8080'));
    const checkId = 'node-a:web-1:8080:docker-health';
    const first = planContainer(container({ health: 'healthy' }), agent([held]), settings);
    expect(first.ops).toEqual([
      {
        kind: 'health',
        serviceId: held.id,
        name: 'web',
        checkId,
        health: 'healthy',
        status: 'passing',
        notes: 'Docker HEALTHCHECK: healthy',
        changed: false,
      },
    ]);
    const same = new Map([[held.id, { status: 'passing' as const, at: NOW - 1_000 }]]);
    expect(planContainer(container({ health: 'healthy' }), agent([held], { health: same }), settings).ops).toEqual([]);
    const flipped = planContainer(container({ health: 'unhealthy' }), agent([held], { health: same }), settings);
    expect(flipped.ops).toMatchObject([{ kind: 'health', status: 'critical', changed: true }]);
    const stale = new Map([[held.id, { status: 'passing' as const, at: NOW - settings.healthRefreshMs - 1 }]]);
    expect(
      planContainer(container({ health: 'healthy' }), agent([held], { health: stale }), settings).ops,
    ).toMatchObject([{ kind: 'health', status: 'passing', changed: false }]);
  });

  it('a registration that carries its health check needs no separate health write', () => {
    const d = reg('node-a:web-1:8080', {
      checks: [
        { checkId: 'node-a:web-1:8080:docker-health', name: 'Docker HEALTHCHECK', ttl: '72h', status: 'critical' },
      ],
    });
    const plan = planContainer(container({ desired: [d], health: 'starting' }), agent([]), settings);
    expect(plan.ops).toEqual([{ kind: 'register', service: d, healthStatus: 'critical' }]);
  });

  it('order: deregister before register, drain and health after the register they need', () => {
    const old = asAgentService(reg('node-a:web-1:9090', { port: 30009 }));
    const plan = planContainer(container({ health: 'healthy' }), agent([old], { stopSignalAt: NOW }), settings);
    expect(kinds(plan.ops)).toEqual(['deregister', 'register', 'drain', 'health']);
  });
});

describe('drain reasons', () => {
  it('round-trips the stop-signal time; other reasons are not drains', () => {
    expect(parseDrainReason(drainReason(NOW))).toBe(NOW);
    expect(parseDrainReason('switchyard: container running again')).toBeUndefined();
    expect(parseDrainReason('switchyard: container is stopping (drain) since yesterday')).toBeUndefined();
  });
});

describe('eventEffect', () => {
  const e = (action: string, attributes: Record<string, string> = {}) => eventEffect({ action, attributes });
  it('stop signals drain, reload signals and unrelated actions do nothing', () => {
    expect(e('kill', { signal: '15' })).toEqual({ stopSignal: '15', killed: false });
    expect(e('kill', { signal: 'SIGKILL' })).toEqual({ stopSignal: 'SIGKILL', killed: true });
    expect(e('kill', { signal: '1' })).toBeUndefined();
    expect(e('exec_start: sh')).toBeUndefined();
    expect(e('health_status: healthy')).toEqual({});
    expect(e('die')).toEqual({ exited: true });
    expect(e('start')).toEqual({ resumed: true });
    expect(e('destroy')).toEqual({ gone: true, exited: true });
  });
});

describe('planContainer: the live-color guard', () => {
  const HELD = 'switchyard: held out of the live color: container web-1 runs shop/web:2, live blue runs shop/web:1';
  const v2 = (o: Partial<ServiceRegistration> = {}) =>
    reg('node-a:web-1:8080', { meta: { ...reg('x').meta, image: 'shop/web:2', image_id: 'sha256:2' }, ...o });
  const blueV1: LiveColorView = {
    live: 'blue',
    instances: [
      {
        serviceId: 'node-b:web-0:8080',
        node: 'node-b',
        meta: { color: 'blue', image: 'shop/web:1', image_id: 'sha256:1' },
      },
    ],
  };
  const live = (view: LiveColorView) => new Map([['web', view]]);
  const container = (o: Partial<ContainerView> = {}): ContainerView => ({
    id: 'c1',
    running: true,
    desired: [v2()],
    ...o,
  });

  it('asks for the live color only of services about to enter rotation or held now', () => {
    expect(servicesToGuard(container(), agent([]))).toEqual(['web']);
    expect(servicesToGuard(container(), agent([asAgentService(v2())]))).toEqual([]);
    expect(
      servicesToGuard(container(), agent([asAgentService(v2())], { maintenance: new Map([[v2().id, HELD]]) })),
    ).toEqual(['web']);
    // A registration of this ID by another container (a name reused by compose) is a newcomer.
    const other = asAgentService(v2({ meta: { ...v2().meta, container_id: 'c0' } }));
    expect(servicesToGuard(container(), agent([other]))).toEqual(['web']);
    expect(servicesToGuard(container({ desired: [v2({ meta: { image: 'x' } })] }), agent([]))).toEqual([]);
    // Allowed whatever is live: nothing to read.
    expect(servicesToGuard(container({ allowLiveMix: true }), agent([]))).toEqual([]);
  });

  it('a newcomer with another image: registered with a critical hold check, then put in maintenance with the reason', () => {
    const plan = planContainer(container(), agent([]), settings, live(blueV1));
    expect(plan.ops.map((o) => o.kind)).toEqual(['register', 'hold']);
    const register = plan.ops[0] as Extract<RegistrarOp, { kind: 'register' }>;
    expect(register.service.checks).toContainEqual(
      expect.objectContaining({ checkId: 'node-a:web-1:8080:live-guard', ttl: '72h', status: 'critical', notes: HELD }),
    );
    expect(plan.ops[1]).toEqual({ kind: 'hold', serviceId: 'node-a:web-1:8080', name: 'web', reason: HELD });
  });

  it('the same image scales the live color: a plain registration', () => {
    const same = {
      ...blueV1,
      instances: [{ ...blueV1.instances[0]!, meta: { ...blueV1.instances[0]!.meta, image_id: 'sha256:2' } }],
    };
    const plan = planContainer(container(), agent([]), settings, live(same));
    expect(plan.ops.map((o) => o.kind)).toEqual(['register']);
    expect((plan.ops[0] as Extract<RegistrarOp, { kind: 'register' }>).service.checks).toEqual([]);
  });

  it('allowed by flag or label: a plain registration', () => {
    const plan = planContainer(container({ allowLiveMix: true }), agent([]), settings, live(blueV1));
    expect(plan.ops.map((o) => o.kind)).toEqual(['register']);
  });

  it('held and still held: nothing to do', () => {
    const a = agent([asAgentService(v2())], { maintenance: new Map([[v2().id, HELD]]) });
    expect(planContainer(container(), a, settings, live(blueV1)).ops).toEqual([]);
  });

  it('held, then its color is no longer live: released (maintenance off, hold check removed)', () => {
    const a = agent([asAgentService(v2())], { maintenance: new Map([[v2().id, HELD]]) });
    const plan = planContainer(container(), a, settings, live({ live: 'green', instances: [] }));
    expect(plan.ops).toEqual([
      { kind: 'release', serviceId: v2().id, name: 'web', checkId: 'node-a:web-1:8080:live-guard', why: 'not-live' },
    ]);
  });

  it('held, and its live color cannot be read (Consul refused): it stays held', () => {
    const a = agent([asAgentService(v2())], { maintenance: new Map([[v2().id, HELD]]) });
    expect(planContainer(container(), a, settings, new Map()).ops).toEqual([]);
  });

  it('held, then the last instance of the old version left: released', () => {
    const a = agent([asAgentService(v2())], { maintenance: new Map([[v2().id, HELD]]) });
    const plan = planContainer(container(), a, settings, live({ live: 'blue', instances: [] }));
    expect(plan.ops).toEqual([expect.objectContaining({ kind: 'release', why: 'no-other-instance' })]);
  });

  it('a held container that got its stop signal stays out (no release, no drain on top)', () => {
    const a = agent([asAgentService(v2())], { maintenance: new Map([[v2().id, HELD]]), stopSignalAt: NOW - 1_000 });
    expect(planContainer(container(), a, settings, live({ live: 'green', instances: [] })).ops).toEqual([]);
  });

  it('an instance already in rotation is never held afterwards (the guard judges entries, not the running)', () => {
    expect(planContainer(container(), agent([asAgentService(v2())]), settings, live(blueV1)).ops).toEqual([]);
  });

  it('a drain is never taken for a hold: a drained instance is not released', () => {
    const drained = agent([asAgentService(v2())], { maintenance: new Map([[v2().id, drainReason(NOW - 1_000)]]) });
    const plan = planContainer(container(), drained, settings, live({ live: 'green', instances: [] }));
    // Still stopping: stays drained; the guard's release never touches a drain's maintenance.
    expect(plan.ops).toEqual([]);
  });
});
