import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PassThrough } from 'node:stream';
import type { BlockingOptions, HealthInstance, Indexed } from '../../../src/consul/consul-client.js';
import { ConsulHttpClient } from '../../../src/consul/consul-http-client.js';
import { createLogger } from '../../../src/log/logger.js';
import { DEFAULT_COLORS } from '../../../src/snapshot/build-snapshot.js';
import type { Snapshot } from '../../../src/snapshot/snapshot.js';
import { CatalogWatcher, FETCH_CONCURRENCY } from '../../../src/watch/catalog-watcher.js';
import { TestConsulAgent } from '../../helpers/consul-agent.js';
import { waitFor } from '../../helpers/ports.js';

/** The adapter, recording which services it was asked the health of. */
class RecordingClient extends ConsulHttpClient {
  readonly fetched: string[] = [];
  override healthService(name: string, options?: BlockingOptions): Promise<Indexed<HealthInstance[]>> {
    this.fetched.push(name);
    return super.healthService(name, options);
  }
}

const SERVICES = 300;

/**
 * The render role's watch against a real Consul holding more services than Consul's default
 * per-client connection limit (200) would allow one blocking query each: it holds three blocking
 * queries, few connections, and fetches only what changed.
 */
describe('CatalogWatcher with 300 services on a real Consul', () => {
  let agent: TestConsulAgent;
  let consul: RecordingClient;
  let watcher: CatalogWatcher;
  const snapshots: Snapshot[] = [];
  const last = () => snapshots.at(-1);
  const instance = (service: string) => last()?.services.find((s) => s.name === service)?.instances ?? [];

  beforeAll(async () => {
    agent = await TestConsulAgent.start();
    const names = Array.from({ length: SERVICES }, (_, i) => `scale-${i}`);
    const queue = [...names];
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let n = queue.shift(); n; n = queue.shift())
          await agent.put('/v1/agent/service/register', {
            ID: `${n}-1`,
            Name: n,
            Address: '127.0.0.1',
            Port: 10_000,
            Meta: { color: 'blue' },
            Check: { CheckID: `${n}-1:ttl`, Name: 'ttl', TTL: '10m', Status: 'passing' },
          });
      }),
    );
    consul = new RecordingClient({ address: agent.address });
    watcher = new CatalogWatcher({
      consul,
      kvPrefix: 'switchyard',
      rules: { colors: DEFAULT_COLORS },
      logger: createLogger({ stream: new PassThrough(), json: true, level: 'error' }),
      onSnapshot: (s) => snapshots.push(s),
    });
    await watcher.start();
    await waitFor('all services in a snapshot', () => (last()?.services.length ?? 0) === SERVICES, 60_000, 100);
  }, 120_000);

  afterAll(async () => {
    await watcher?.close();
    await consul?.close();
    await agent?.stop();
  });

  it('holds three blocking queries and a handful of connections, not one per service', async () => {
    await waitFor('the watches parked', () => consul.usage().blockingQueries === 3, 10_000, 50);
    const usage = consul.usage();
    expect(usage.blockingQueries).toBe(3);
    expect(usage.connections).toBeLessThanOrEqual(3 + FETCH_CONCURRENCY);
    // Every service was read once to start with.
    expect(new Set(consul.fetched).size).toBe(SERVICES);
  });

  it('a health change fetches that one service; the blocking queries stay three', async () => {
    consul.fetched.length = 0;
    const before = consul.usage().requests;
    await agent.put('/v1/agent/check/fail/scale-42-1:ttl?note=down');
    await waitFor('scale-42 critical', () => instance('scale-42')[0]?.health === 'critical', 10_000, 50);
    expect(consul.fetched).toEqual(['scale-42']);
    // The checks watch answering and asking again, and the one fetch (the catalog does not move).
    expect(consul.usage().requests - before).toBeLessThanOrEqual(3);
    await waitFor('the watches parked', () => consul.usage().blockingQueries === 3, 10_000, 50);
  });

  it('a new instance and a deregistered one fetch only their service', async () => {
    consul.fetched.length = 0;
    await agent.put('/v1/agent/service/register', {
      ID: 'scale-7-2',
      Name: 'scale-7',
      Address: '127.0.0.2',
      Port: 10_000,
      Meta: { color: 'blue' },
      Check: { CheckID: 'scale-7-2:ttl', Name: 'ttl', TTL: '10m', Status: 'passing' },
    });
    await waitFor('scale-7 with two instances', () => instance('scale-7').length === 2, 10_000, 50);
    await agent.put('/v1/agent/service/deregister/scale-7-2');
    await waitFor('scale-7 with one instance', () => instance('scale-7').length === 1, 10_000, 50);
    expect(new Set(consul.fetched)).toEqual(new Set(['scale-7']));
    expect(consul.usage().connections).toBeLessThanOrEqual(3 + FETCH_CONCURRENCY);
  });

  it('an address changed in place is seen', async () => {
    consul.fetched.length = 0;
    await agent.put('/v1/agent/service/register', {
      ID: 'scale-9-1',
      Name: 'scale-9',
      Address: '127.0.0.9',
      Port: 10_000,
      Meta: { color: 'blue' },
      Check: { CheckID: 'scale-9-1:ttl', Name: 'ttl', TTL: '10m', Status: 'passing' },
    });
    await waitFor('scale-9 at its new address', () => instance('scale-9')[0]?.address === '127.0.0.9', 10_000, 50);
    expect(consul.fetched).toContain('scale-9');
  });
});
