import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from '@jest/globals';
import { ConsulAclError, ConsulError } from '../../../src/errors.js';
import { Metrics } from '../../../src/http/metrics.js';
import { createLogger } from '../../../src/log/logger.js';
import type { LiveColorSource, LiveColorView } from '../../../src/registrar/live-color-guard.js';
import { Registrar, type RegistrarOptions } from '../../../src/registrar/registrar.js';
import { waitFor } from '../../helpers/ports.js';
import { FakeConsul } from '../../helpers/fake-consul.js';
import { FakeDocker, labelledContainer } from '../../helpers/fake-docker.js';

interface LogLine {
  level: string;
  message: string;
  container?: string;
  containerId?: string;
  label?: string;
}

const running: Registrar[] = [];

function setup(options: Partial<RegistrarOptions> = {}) {
  const docker = new FakeDocker();
  const consul = new FakeConsul();
  const stream = new PassThrough();
  const lines: LogLine[] = [];
  stream.on('data', (b: Buffer) => {
    for (const l of b.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as LogLine);
  });
  const metrics = new Metrics({ defaultMetrics: false });
  /** The live color per service, as the live-color guard reads it (set by a test). */
  const live = new Map<string, LiveColorView>();
  /** Set by a test to make the live-color read fail. */
  const failure: { error?: Error } = {};
  const liveColors: LiveColorSource = {
    liveColor: (service) =>
      failure.error
        ? Promise.reject(failure.error)
        : Promise.resolve(live.get(service) ?? { live: undefined, instances: [] }),
  };
  const make = () => {
    const r = new Registrar(
      { docker, consul, logger: createLogger({ json: true, stream, level: 'debug' }), metrics, liveColors },
      {
        colorLabel: 'color',
        selection: 'labelled',
        extraTags: [],
        internal: false,
        resyncMs: 60_000,
        agentCheckMs: 60_000,
        deregisterOnExit: false,
        closeTimeoutMs: 2_000,
        ...options,
      },
    );
    running.push(r);
    return r;
  };
  return { docker, consul, lines, metrics, make, live, failure };
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.close()));
});

const ids = (consul: FakeConsul) => [...consul.services.keys()].sort();

describe('Registrar', () => {
  it('subscribes to events before listing, registers labelled running containers at start, ignores the rest', async () => {
    const { docker, consul, make } = setup();
    docker.containers.set('a', labelledContainer(1, { id: 'a' }));
    docker.containers.set('b', labelledContainer(2, { id: 'b', labels: {} }));
    docker.containers.set('c', labelledContainer(3, { id: 'c', running: false }));
    let connectedWhenListed: boolean | undefined;
    const list = docker.listContainers.bind(docker);
    docker.listContainers = () => {
      connectedWhenListed ??= docker.connected;
      return list();
    };
    const r = make();
    await r.start();
    await r.ready;
    expect(connectedWhenListed).toBe(true);
    expect(docker.subscriptions[0]?.since).toMatch(/^\d+\.\d{9}$/);
    expect(ids(consul)).toEqual(['node-a:web-1:8080']);
    expect(consul.services.get('node-a:web-1:8080')?.meta.switchyard_owner).toBe('node-a');
  });

  it('start → registered; kill (SIGTERM) → drained; die → deregistered without waiting for destroy', async () => {
    const { docker, consul, lines, make } = setup();
    const r = make();
    await r.start();
    await r.ready;
    const c = labelledContainer(1, { id: 'a' });
    docker.containers.set('a', c);
    docker.emit('start', 'a');
    await waitFor('registered', () => consul.services.has('node-a:web-1:8080'), 2_000);

    docker.emit('kill', 'a', { signal: '15' });
    await waitFor('drained', () => consul.maintenance.get('node-a:web-1:8080') === true, 2_000);
    expect(consul.services.has('node-a:web-1:8080')).toBe(true);

    docker.containers.set('a', { ...c, running: false });
    docker.emit('die', 'a', { exitCode: '0' });
    await waitFor('deregistered', () => !consul.services.has('node-a:web-1:8080'), 2_000);
    const drain = lines.find((l) => l.message.startsWith('draining'));
    expect(drain).toMatchObject({ container: 'web-1', containerId: 'a' });
    expect(lines.some((l) => l.message.startsWith('deregistered web') && l.message.includes('not running'))).toBe(true);
  });

  it('live-color guard: another image into the live color is held (hold check + maintenance, a warning naming both images); a switch releases it within the agent-check interval', async () => {
    const { docker, consul, lines, make, live } = setup({ agentCheckMs: 50 });
    const blueV1 = {
      live: 'blue',
      instances: [
        {
          serviceId: 'node-b:web-9:8080',
          node: 'node-b',
          meta: { color: 'blue', image: 'shop/web:1', image_id: 'sha256:1' },
        },
      ],
    };
    live.set('web', blueV1);
    const r = make();
    await r.start();
    await r.ready;
    docker.containers.set('a', labelledContainer(1, { id: 'a', image: 'shop/web:2', imageId: 'sha256:2' }));
    docker.emit('start', 'a');
    const id = 'node-a:web-1:8080';
    await waitFor('held', () => consul.maintenance.get(id) === true, 2_000);
    const reason = 'switchyard: held out of the live color: container web-1 runs shop/web:2, live blue runs shop/web:1';
    expect(consul.maintenanceReasons.get(id)).toBe(reason);
    // Registered with its hold check critical: never in rotation, not even before the maintenance.
    expect(consul.calls.indexOf(`register ${id}`)).toBeLessThan(consul.calls.indexOf(`maintenance ${id} true`));
    expect(consul.ttl.get(`${id}:live-guard`)).toBe('critical');
    expect(lines.find((l) => l.message.startsWith('held web'))).toMatchObject({
      level: 'warn',
      container: 'web-1',
      serviceId: id,
      message: expect.stringContaining('container web-1 runs shop/web:2, live blue runs shop/web:1'),
    });

    // The same image scales the live color.
    docker.containers.set('b', labelledContainer(2, { id: 'b', image: 'shop/web:1', imageId: 'sha256:1' }));
    docker.emit('start', 'b');
    await waitFor('scaled', () => consul.services.has('node-a:web-2:8080'), 2_000);
    await new Promise((res) => setTimeout(res, 100));
    expect(consul.maintenance.get('node-a:web-2:8080')).toBeUndefined();

    live.set('web', { live: 'green', instances: [] });
    await waitFor('released', () => consul.maintenance.get(id) === false, 2_000);
    expect(consul.ttl.has(`${id}:live-guard`)).toBe(false);
    expect(consul.services.get(id)?.checks.map((c) => c.checkId)).toEqual([]);
    expect(lines.find((l) => l.message.startsWith('released web'))).toMatchObject({
      container: 'web-1',
      message: `released web (${id}) into rotation: its color is no longer the live one`,
    });
  });

  it('live-color guard: the switchyard.allow-live-mix label lets another image into the live color', async () => {
    const { docker, consul, make, live } = setup();
    live.set('web', {
      live: 'blue',
      instances: [{ serviceId: 'node-b:web-9:8080', node: 'node-b', meta: { color: 'blue', image: 'shop/web:1' } }],
    });
    const r = make();
    await r.start();
    await r.ready;
    const labels = { color: 'blue', 'switchyard.allow-live-mix': 'true' };
    docker.containers.set('a', labelledContainer(1, { id: 'a', image: 'shop/web:2', labels }));
    docker.emit('start', 'a');
    await waitFor('registered', () => consul.services.has('node-a:web-1:8080'), 2_000);
    await new Promise((res) => setTimeout(res, 100));
    expect(consul.calls.filter((c) => c.startsWith('maintenance'))).toEqual([]);
  });

  it('live-color guard: Consul refusing the live-color read (ACL) registers the container unguarded, with one warning', async () => {
    const { docker, consul, lines, make, failure } = setup();
    failure.error = new ConsulError('Consul health of service web failed: HTTP 403 Permission denied', 403);
    const r = make();
    await r.start();
    await r.ready;
    docker.containers.set('a', labelledContainer(1, { id: 'a' }));
    docker.emit('start', 'a');
    await waitFor('registered', () => consul.services.has('node-a:web-1:8080'), 2_000);
    expect(consul.calls.filter((c) => c.startsWith('maintenance'))).toEqual([]);
    const warnings = lines.filter((l) => l.message.startsWith('live-color guard off for web'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({
      level: 'warn',
      container: 'web-1',
      message: expect.stringContaining('HTTP 403'),
    });
  });

  it("Consul refusing a container's registration (ACL 403): one line per container, not one per event or resync; said again once it changes", async () => {
    const { docker, consul, lines, make } = setup();
    let refusal = 'Consul ACL: token may not write service "web" (403)';
    consul.registerService = () => Promise.reject(new ConsulAclError(refusal, 403));
    const r = make();
    await r.start();
    await r.ready;
    docker.containers.set('a', labelledContainer(1, { id: 'a' }));
    const refusals = () => lines.filter((l) => l.message.includes('Consul ACL'));
    docker.emit('start', 'a');
    await waitFor('the refusal', () => refusals().length > 0, 2_000);
    docker.emit('health_status: healthy', 'a');
    expect(await r.reconcile('resync')).toBe(true);
    expect(await r.reconcile('resync')).toBe(true);
    expect(refusals()).toHaveLength(1);
    expect(refusals()[0]).toMatchObject({ level: 'error', container: 'web-1' });
    refusal = 'Consul ACL: token not found (403)';
    await r.reconcile('resync');
    expect(refusals()).toHaveLength(2);
    expect(refusals()[1]!.message).toContain('token not found');
  });

  it('a reload signal (SIGHUP) does not drain', async () => {
    const { docker, consul, make } = setup();
    docker.containers.set('a', labelledContainer(1, { id: 'a' }));
    const r = make();
    await r.start();
    await r.ready;
    docker.emit('kill', 'a', { signal: '1' });
    docker.emit('health_status: healthy', 'a');
    await new Promise((res) => setTimeout(res, 50));
    expect(consul.calls.filter((c) => c.startsWith('maintenance'))).toEqual([]);
  });

  it('removes ghosts it owns at start and never touches services it does not own', async () => {
    const { docker, consul, make } = setup();
    const ghost = {
      id: 'node-a:gone:8080',
      name: 'web',
      tags: [],
      address: '',
      port: 1,
      meta: { switchyard_owner: 'node-a', container_id: 'gone' },
      checks: [],
    };
    const foreign = { ...ghost, id: 'other:gone:8080', meta: { switchyard_owner: 'other', container_id: 'gone' } };
    const manual = { ...ghost, id: 'hand-made', meta: {} };
    for (const s of [ghost, foreign, manual]) consul.services.set(s.id, s);
    docker.containers.set('a', labelledContainer(1, { id: 'a' }));
    const r = make();
    await r.start();
    await r.ready;
    expect(ids(consul)).toEqual(['hand-made', 'node-a:web-1:8080', 'other:gone:8080']);
  });

  it('Consul down: no crash, no flood; once it is back, the latest state of every container is registered', async () => {
    const { docker, consul, lines, make } = setup();
    const r = make();
    await r.start();
    await r.ready;
    consul.down();
    const callsBefore = consul.calls.length;
    for (let i = 0; i < 40; i++) {
      docker.containers.set(`c${i}`, labelledContainer(i, { id: `c${i}` }));
      docker.emit('start', `c${i}`);
    }
    // Container 0 stops again during the outage: its latest state (gone) is what must win.
    docker.containers.set('c0', { ...docker.containers.get('c0')!, running: false });
    docker.emit('die', 'c0');
    await new Promise((res) => setTimeout(res, 1_500));
    const duringOutage = consul.calls.length - callsBefore;
    // Each lane tries at most once before the gate closes; after that only the prober asks.
    expect(duringOutage).toBeLessThan(60);
    expect(lines.filter((l) => l.message.startsWith('Consul agent unreachable'))).toHaveLength(1);
    consul.up();
    await waitFor('all registered after the outage', () => consul.services.size === 39, 20_000);
    expect(consul.services.has('node-a:web-0:8080')).toBe(false);
    expect(lines.some((l) => l.message.startsWith('Consul agent reachable again'))).toBe(true);
  }, 30_000);

  it('event stream ends → reconnects with since = last event time, reconciles, and loses no event', async () => {
    const { docker, consul, metrics, make } = setup();
    const r = make();
    await r.start();
    await r.ready;
    docker.containers.set('a', labelledContainer(1, { id: 'a' }));
    docker.emit('start', 'a');
    await waitFor('a registered', () => consul.services.size === 1, 2_000);
    docker.endStream();
    // While disconnected: b starts (its event is lost with the connection), a stops.
    docker.containers.set('b', labelledContainer(2, { id: 'b' }));
    docker.containers.set('a', { ...docker.containers.get('a')!, running: false });
    await waitFor('resubscribed', () => docker.subscriptions.length === 2 && docker.connected, 5_000);
    expect(docker.subscriptions[1]?.since).toBe('1700000000.001000000');
    await waitFor('reconciled after reconnect', () => ids(consul).join() === 'node-a:web-2:8080', 5_000);
    expect(
      (await metrics.registry.getSingleMetricAsString('switchyard_docker_reconnects_total')).trim().endsWith(' 1'),
    ).toBe(true);
    docker.containers.set('c', labelledContainer(3, { id: 'c' }));
    docker.emit('start', 'c');
    await waitFor('c registered on the new stream', () => consul.services.has('node-a:web-3:8080'), 2_000);
  });

  it('a failing stream is retried with backoff, never ends the registrar', async () => {
    const { docker, make, lines } = setup();
    const r = make();
    await r.start();
    await r.ready;
    expect(r.health().status).toBe('ok');
    docker.failStream(new Error('socket hang up'));
    await waitFor('/healthz sees the stream down', () => r.health().status === 'unhealthy', 2_000);
    expect(r.health().message).toBe('the Docker event stream is down (socket hang up); reconnecting with backoff');
    expect(Date.now() - Date.parse(r.health().since!)).toBeLessThan(2_000);
    await waitFor('resubscribed', () => docker.subscriptions.length === 2 && docker.connected, 5_000);
    await waitFor('healthy again after the reconnect reconcile', () => r.health().status === 'ok', 2_000);
    expect(
      lines.some((l) => l.level === 'warn' && l.message.includes('Docker event stream failed (socket hang up)')),
    ).toBe(true);
  });

  it('reconcile() that joins a running pass reports the outcome of the pass that covers it, failure included', async () => {
    const { docker, make } = setup();
    const r = make();
    await r.start();
    await r.ready;
    let release: () => void = () => undefined;
    const held = new Promise<void>((res) => (release = res));
    const list = docker.listContainers.bind(docker);
    let calls = 0;
    docker.listContainers = async () => {
      calls++;
      if (calls === 1) {
        await held;
        return list();
      }
      throw new Error('dockerd gone');
    };
    const first = r.reconcile('resync');
    await waitFor('the first pass is listing', () => calls === 1, 2_000);
    const joined = r.reconcile('resync');
    release();
    expect(await joined).toBe(false);
    expect(await first).toBe(false);
    docker.listContainers = list;
    expect(await r.reconcile('resync')).toBe(true);
  });

  it('a drain survives a restart of Switchyard: still in maintenance until the container exits, then deregistered', async () => {
    const { docker, consul, lines, make } = setup();
    const startedAt = new Date(Date.now() - 60_000).toISOString();
    docker.containers.set('a', labelledContainer(1, { id: 'a', startedAt }));
    const r1 = make();
    await r1.start();
    await r1.ready;
    docker.emit('kill', 'a', { signal: '15' });
    await waitFor('drained', () => consul.maintenance.get('node-a:web-1:8080') === true, 2_000);
    expect(consul.maintenanceReasons.get('node-a:web-1:8080')).toMatch(
      /^switchyard: container is stopping \(drain\) since \d{4}-\d\d-\d\dT/,
    );
    await r1.close();

    const r2 = make();
    await r2.start();
    await r2.ready;
    await r2.reconcile('resync');
    expect(consul.maintenance.get('node-a:web-1:8080')).toBe(true);
    expect(consul.calls.filter((c) => c === 'maintenance node-a:web-1:8080 false')).toEqual([]);
    expect(
      lines.filter((l) => l.message.startsWith('still draining: the container got its stop signal at')),
    ).toMatchObject([{ container: 'web-1', containerId: 'a' }]);
    docker.containers.set('a', { ...docker.containers.get('a')!, running: false });
    docker.emit('die', 'a', { exitCode: '0' });
    await waitFor('deregistered', () => !consul.services.has('node-a:web-1:8080'), 2_000);
    expect(lines.some((l) => l.message.startsWith('back in rotation'))).toBe(false);
  });

  it('after a restart, a drained container that was started again since is put back in rotation', async () => {
    const { docker, consul, make } = setup();
    docker.containers.set(
      'a',
      labelledContainer(1, { id: 'a', startedAt: new Date(Date.now() - 60_000).toISOString() }),
    );
    const r1 = make();
    await r1.start();
    await r1.ready;
    docker.emit('kill', 'a', { signal: '15' });
    await waitFor('drained', () => consul.maintenance.get('node-a:web-1:8080') === true, 2_000);
    await r1.close();
    // Restarted while Switchyard was down (same id, same name, a later StartedAt).
    docker.containers.set('a', { ...docker.containers.get('a')!, startedAt: new Date().toISOString() });
    const r2 = make();
    await r2.start();
    await r2.ready;
    expect(consul.maintenance.get('node-a:web-1:8080')).toBe(false);
  });

  it('the agent losing its state → everything registered again by the agent check', async () => {
    const { docker, consul, lines, make } = setup({ agentCheckMs: 100 });
    for (let i = 0; i < 5; i++) docker.containers.set(`c${i}`, labelledContainer(i, { id: `c${i}` }));
    const r = make();
    await r.start();
    await r.ready;
    expect(consul.services.size).toBe(5);
    consul.loseEverything();
    await waitFor('re-registered', () => consul.services.size === 5, 3_000);
    expect(lines.some((l) => l.message.includes('no longer has 5 of our 5 services'))).toBe(true);
  });

  it('the agent check racing a deregistration in flight: no false loss, no re-registration of the gone container', async () => {
    const { docker, consul, lines, make } = setup({ agentCheckMs: 20 });
    docker.containers.set('a', labelledContainer(1, { id: 'a' }));
    // Another container stays registered, so the agent check keeps running.
    docker.containers.set('b', labelledContainer(2, { id: 'b' }));
    const r = make();
    await r.start();
    await r.ready;
    const sid = 'node-a:web-1:8080';
    expect(consul.services.has(sid)).toBe(true);
    // As Consul does: the agent applies the deregistration at once, and answers it only after its
    // catalog sync, so agent checks in between read a list without the service.
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    const deregister = consul.deregisterService.bind(consul);
    consul.deregisterService = async (id) => {
      await deregister(id);
      await answered;
    };
    docker.containers.set('a', { ...docker.containers.get('a')!, running: false });
    docker.emit('die', 'a', { exitCode: '137' });
    await waitFor('deregistration applied', () => !consul.services.has(sid), 2_000);
    const checks = consul.calls.filter((c) => c === 'services').length;
    await waitFor(
      'agent checks during the deregistration',
      () => consul.calls.filter((c) => c === 'services').length >= checks + 3,
      3_000,
    );
    docker.containers.delete('a');
    docker.emit('destroy', 'a');
    answer();
    await waitFor('deregistered logged', () => lines.some((l) => l.message.startsWith('deregistered web')), 2_000);
    // Let a few more agent checks run after the write was answered.
    const after = consul.calls.filter((c) => c === 'services').length;
    await waitFor('agent checks after', () => consul.calls.filter((c) => c === 'services').length >= after + 3, 3_000);
    expect(lines.filter((l) => l.message.includes('no longer has'))).toEqual([]);
    expect(consul.calls.filter((c) => c === `register ${sid}`)).toHaveLength(1);
    expect(consul.services.has(sid)).toBe(false);
  });

  it('die deregisters without waiting on a Docker inspect (slow while dockerd is busy); a restart registers again', async () => {
    const { docker, consul, make } = setup();
    docker.containers.set('a', labelledContainer(1, { id: 'a' }));
    const r = make();
    await r.start();
    await r.ready;
    const sid = 'node-a:web-1:8080';
    expect(consul.services.has(sid)).toBe(true);
    // dockerd busy: an inspect does not answer until released.
    let release!: () => void;
    const busy = new Promise<void>((resolve) => (release = resolve));
    const inspect = docker.inspectContainer.bind(docker);
    docker.inspectContainer = async (id) => {
      await busy;
      return inspect(id);
    };
    docker.containers.set('a', { ...docker.containers.get('a')!, running: false });
    docker.emit('die', 'a', { exitCode: '137' });
    await waitFor('deregistered while dockerd is busy', () => !consul.services.has(sid), 2_000);
    // Started again: that event is inspected as usual, once dockerd answers.
    docker.containers.set('a', { ...docker.containers.get('a')!, running: true });
    docker.emit('start', 'a');
    release();
    await waitFor('registered again', () => consul.services.has(sid), 2_000);
  });

  it('the agent check re-plans only the containers of lost services, with what Docker says now', async () => {
    const { docker, consul, lines, make } = setup({ agentCheckMs: 50 });
    for (const n of [1, 2, 3]) docker.containers.set(`c${n}`, labelledContainer(n, { id: `c${n}` }));
    const r = make();
    await r.start();
    await r.ready;
    expect(consul.services.size).toBe(3);
    const inspected: string[] = [];
    const inspect = docker.inspectContainer.bind(docker);
    docker.inspectContainer = (id) => {
      inspected.push(id);
      return inspect(id);
    };
    // The agent loses web-1 and web-2; web-2's container went away with no event we saw.
    docker.containers.delete('c2');
    consul.services.delete('node-a:web-1:8080');
    consul.services.delete('node-a:web-2:8080');
    await waitFor('web-1 registered again', () => consul.services.has('node-a:web-1:8080'), 3_000);
    await waitFor('both planned', () => inspected.includes('c2'), 3_000);
    expect(consul.services.has('node-a:web-2:8080')).toBe(false);
    expect(consul.services.has('node-a:web-3:8080')).toBe(true);
    expect([...new Set(inspected)].sort()).toEqual(['c1', 'c2']);
    expect(lines.some((l) => l.message.includes('no longer has 2 of our 3 services'))).toBe(true);
  });

  it('Docker health follows health_status events through the TTL check', async () => {
    const { docker, consul, make } = setup();
    docker.containers.set('a', labelledContainer(1, { id: 'a', health: 'starting' }));
    const r = make();
    await r.start();
    await r.ready;
    const check = 'node-a:web-1:8080:docker-health';
    expect(consul.ttl.get(check)).toBe('critical');
    docker.containers.set('a', { ...docker.containers.get('a')!, health: 'healthy' });
    docker.emit('health_status: healthy', 'a');
    await waitFor('passing', () => consul.ttl.get(check) === 'passing', 2_000);
    docker.containers.set('a', { ...docker.containers.get('a')!, health: 'unhealthy' });
    docker.emit('health_status: unhealthy', 'a');
    await waitFor('critical', () => consul.ttl.get(check) === 'critical', 2_000);
  });

  it('a hostile label skips that container with one warning naming container and label; others are registered', async () => {
    const { docker, consul, lines, metrics, make } = setup({ resyncMs: 100 });
    docker.containers.set(
      'bad',
      labelledContainer(1, {
        id: 'bad',
        name: 'evil',
        labels: { color: 'blue', SERVICE_NAME: 'x;\n server evil 1.2.3.4' },
      }),
    );
    docker.containers.set('ok', labelledContainer(2, { id: 'ok' }));
    const r = make();
    await r.start();
    await r.ready;
    await new Promise((res) => setTimeout(res, 350)); // a few resyncs: still one warning
    expect(ids(consul)).toEqual(['node-a:web-2:8080']);
    const warnings = lines.filter((l) => l.level === 'warn' && l.container === 'evil');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ label: 'label SERVICE_NAME', containerId: 'bad' });
    expect(warnings[0]!.message).toMatch(/^skipping container: label SERVICE_NAME contains control characters/);
    expect(await metrics.registry.getSingleMetricAsString('switchyard_skipped_containers_total')).toMatch(/ 1$/m);
  });

  it('a container name reused by a new container (compose recreate) ends with the new one registered', async () => {
    const { docker, consul, make } = setup();
    const old = labelledContainer(1, { id: 'old' });
    docker.containers.set('old', old);
    const r = make();
    await r.start();
    await r.ready;
    consul.delayMs = 20; // keep the lane busy so the events below coalesce
    docker.containers.delete('old');
    docker.emit('die', 'old', { name: 'web-1' });
    docker.emit('destroy', 'old', { name: 'web-1' });
    docker.containers.set('new', labelledContainer(1, { id: 'new', labels: { color: 'green' } }));
    docker.emit('start', 'new');
    await waitFor(
      'the new container registered',
      () => consul.services.get('node-a:web-1:8080')?.meta.container_id === 'new',
      3_000,
    );
    await new Promise((res) => setTimeout(res, 100));
    expect(consul.services.get('node-a:web-1:8080')?.tags).toEqual(['green']);
  });

  it('close keeps registrations by default and removes them with deregisterOnExit', async () => {
    const keep = setup();
    keep.docker.containers.set('a', labelledContainer(1, { id: 'a' }));
    const r1 = keep.make();
    await r1.start();
    await r1.ready;
    await r1.close();
    await r1.close();
    expect(keep.consul.services.size).toBe(1);

    const drop = setup({ deregisterOnExit: true });
    drop.docker.containers.set('a', labelledContainer(1, { id: 'a' }));
    drop.consul.services.set('hand-made', {
      id: 'hand-made',
      name: 'x',
      tags: [],
      address: '',
      port: 1,
      meta: {},
      checks: [],
    });
    const r2 = drop.make();
    await r2.start();
    await r2.ready;
    await r2.close();
    expect(ids(drop.consul)).toEqual(['hand-made']);
  });

  it('close before start finished is safe and bounded', async () => {
    const { consul, make } = setup();
    consul.down(); // the owner lookup keeps retrying
    const r = make();
    await r.start();
    const t0 = Date.now();
    await r.close();
    expect(Date.now() - t0).toBeLessThan(1_000);
  });
});
