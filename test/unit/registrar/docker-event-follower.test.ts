import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from '@jest/globals';
import type { DockerEvent } from '../../../src/docker/docker-client.js';
import { Metrics } from '../../../src/http/metrics.js';
import { createLogger } from '../../../src/log/logger.js';
import { DockerEventFollower, type ConnectTrigger } from '../../../src/registrar/docker-event-follower.js';
import { FakeDocker, labelledContainer } from '../../helpers/fake-docker.js';
import { waitFor } from '../../helpers/ports.js';

const stops: AbortController[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s.abort();
});

function follow(connectedOk: () => boolean = () => true) {
  const docker = new FakeDocker();
  const stop = new AbortController();
  stops.push(stop);
  const connects: ConnectTrigger[] = [];
  const events: DockerEvent[] = [];
  const follower = new DockerEventFollower(
    docker,
    {
      connected: (t) => {
        connects.push(t);
        return Promise.resolve(connectedOk());
      },
      event: (e) => events.push(e),
    },
    {
      log: createLogger({ json: true, stream: new PassThrough(), level: 'error' }),
      metrics: new Metrics({ defaultMetrics: false }),
      signal: stop.signal,
    },
  );
  const done = follower.run();
  return { docker, stop, connects, events, follower, done };
}

describe('DockerEventFollower', () => {
  it('hands events over in order and replays from the last one after a reconnect', async () => {
    const { docker, connects, events } = follow();
    await waitFor('subscribed', () => docker.connected, 2_000);
    docker.containers.set('a', labelledContainer(1, { id: 'a' }));
    docker.emit('start', 'a');
    docker.emit('die', 'a');
    await waitFor('two events', () => events.length === 2, 2_000);
    expect(events.map((e) => e.action)).toEqual(['start', 'die']);
    docker.endStream();
    await waitFor('resubscribed', () => docker.subscriptions.length === 2 && docker.connected, 5_000);
    expect(connects).toEqual(['start', 'reconnect']);
    expect(docker.subscriptions[1]?.since).toBe('1700000000.002000000');
  });

  it('is down (since when, why) from a failure until a reconnect’s reconcile completes', async () => {
    let ok = true;
    const { docker, follower } = follow(() => ok);
    await waitFor('subscribed', () => docker.connected, 2_000);
    await new Promise((r) => setImmediate(r));
    expect(follower.down).toBeUndefined();
    ok = false;
    const t0 = Date.now();
    docker.failStream(new Error('socket hang up'));
    await waitFor('down', () => follower.down !== undefined, 2_000);
    expect(follower.down!.reason).toBe('socket hang up');
    expect(Math.abs(follower.down!.since.getTime() - t0)).toBeLessThan(1_000);
    const since = follower.down!.since;
    // Reconnected, but the reconcile failed: still down, since the first failure.
    await waitFor('resubscribed', () => docker.subscriptions.length === 2 && docker.connected, 5_000);
    await new Promise((r) => setImmediate(r));
    expect(follower.down?.since).toEqual(since);
    ok = true;
    docker.endStream();
    await waitFor(
      'down again: the stream ended',
      () => follower.down?.reason.startsWith('the stream ended') === true,
      2_000,
    );
    expect(follower.down?.since).toEqual(since);
    await waitFor('up after a reconnect whose reconcile completed', () => follower.down === undefined, 5_000);
  });

  it('is up again once a reconcile that started after the reconnect completes, though the reconnect’s own failed', async () => {
    // The soak's dockerd restart: the listing at reconnect failed (dockerd still starting), the
    // stream then stayed open and events flowed, and /healthz said "down" until the next restart.
    let ok = true;
    const { docker, follower, events } = follow(() => ok);
    await waitFor('subscribed', () => docker.connected, 2_000);
    ok = false;
    docker.failStream(new Error('connect ECONNREFUSED'));
    await waitFor('resubscribed', () => docker.subscriptions.length === 2 && docker.connected, 5_000);
    await new Promise((r) => setImmediate(r));
    expect(follower.down?.reason).toBe('connect ECONNREFUSED');
    // A reconcile that started before the stream was open proves nothing.
    follower.reconciled(Date.now() - 60_000);
    expect(follower.down).toBeDefined();
    docker.containers.set('a', labelledContainer(1, { id: 'a' }));
    docker.emit('start', 'a');
    await waitFor('the event', () => events.length === 1, 2_000);
    follower.reconciled(Date.now());
    expect(follower.down).toBeUndefined();
  });

  it('retries a failed reconcile while the stream stays open, until one completes', async () => {
    // A dockerd restart: its events went with the old daemon, so only a listing finds the
    // containers it stopped. The listing at reconnect fails (dockerd still starting): retried with
    // backoff, not left to the next resync.
    let passes = 0;
    const { docker, connects, follower } = follow(() => {
      passes++;
      // The first (at start) and the fourth complete.
      return passes === 1 || passes >= 4;
    });
    await waitFor('subscribed', () => docker.connected, 2_000);
    docker.failStream(new Error('connect ECONNREFUSED'));
    await waitFor('up again', () => connects.length >= 2 && follower.down === undefined, 10_000);
    expect(connects).toEqual(['start', 'reconnect', 'reconnect', 'reconnect']);
    expect(docker.subscriptions).toHaveLength(2);
    // Once one completed, no more passes.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(connects).toHaveLength(4);
  });

  it('stops retrying when another pass (a resync) completed while the stream was open', async () => {
    let passes = 0;
    const { docker, connects, follower } = follow(() => ++passes === 1);
    await waitFor('subscribed', () => docker.connected, 2_000);
    docker.failStream(new Error('connect ECONNREFUSED'));
    await waitFor('reconnect pass', () => connects.length === 2, 5_000);
    follower.reconciled(Date.now());
    expect(follower.down).toBeUndefined();
    await new Promise((r) => setTimeout(r, 1_500));
    expect(connects).toEqual(['start', 'reconnect']);
  });

  it('stays down when the stream fails again before a later reconcile completes', async () => {
    const { docker, follower } = follow(() => false);
    await waitFor('subscribed', () => docker.connected, 2_000);
    const started = Date.now();
    docker.failStream(new Error('socket hang up'));
    await waitFor('down', () => follower.down !== undefined, 2_000);
    // The reconcile started while a stream was open, but that stream has failed since.
    follower.reconciled(started);
    expect(follower.down?.reason).toBe('socket hang up');
  });

  it('ends when its signal aborts', async () => {
    const { docker, stop, done } = follow();
    await waitFor('subscribed', () => docker.connected, 2_000);
    stop.abort();
    await done;
  });
});
