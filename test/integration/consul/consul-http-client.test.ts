import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConsulHttpClient } from '../../../src/consul/consul-http-client.js';
import { ClosedError, ConsulError } from '../../../src/errors.js';
import { TestConsulAgent } from '../../helpers/consul-agent.js';

describe('ConsulHttpClient against a real agent', () => {
  let agent: TestConsulAgent;
  let client: ConsulHttpClient;

  beforeAll(async () => {
    agent = await TestConsulAgent.start();
    client = new ConsulHttpClient({ address: agent.address });
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await agent?.stop();
  });

  it('reports the agent node name', async () => {
    expect(await client.agentNodeName()).toBe(agent.nodeName);
  });

  it('registers a service with tags, meta and a TTL check, and deregisters it', async () => {
    await client.registerService({
      id: 'node:web-1:8080',
      name: 'web',
      tags: ['blue', 'prod'],
      address: '127.0.0.1',
      port: 18080,
      meta: { color: 'blue', owner: 'test' },
      checks: [{ checkId: 'node:web-1:8080:ttl', name: 'docker health', ttl: '30s', status: 'passing' }],
    });
    const services = await client.agentServices();
    expect(services).toContainEqual({
      id: 'node:web-1:8080',
      name: 'web',
      tags: ['blue', 'prod'],
      address: '127.0.0.1',
      port: 18080,
      meta: { color: 'blue', owner: 'test' },
    });
    const health = await client.healthService('web');
    expect(health.index).toBeGreaterThan(0);
    expect(health.value).toHaveLength(1);
    expect(health.value[0]!.checks.find((c) => c.checkId === 'node:web-1:8080:ttl')?.status).toBe('passing');

    await client.updateTtlCheck('node:web-1:8080:ttl', 'critical', 'container unhealthy');
    const after = await client.healthService('web');
    const check = after.value[0]!.checks.find((c) => c.checkId === 'node:web-1:8080:ttl');
    expect(check?.status).toBe('critical');
    expect(check?.output).toContain('container unhealthy');

    await client.deregisterService('node:web-1:8080');
    await client.deregisterService('node:web-1:8080'); // already gone: not an error
    expect((await client.agentServices()).map((s) => s.id)).not.toContain('node:web-1:8080');
  });

  it('reads a maintenance reason from the health of the service, and removes one check', async () => {
    await client.registerService({
      id: 'node:web-2:8080',
      name: 'web2',
      tags: [],
      address: '127.0.0.1',
      port: 18081,
      meta: {},
      checks: [{ checkId: 'node:web-2:8080:hold', name: 'hold', ttl: '72h', status: 'critical', notes: 'held' }],
    });
    await client.setServiceMaintenance('node:web-2:8080', true, 'switchyard: held out of the live color: because');
    const checks = (await client.healthService('web2')).value[0]!.checks;
    expect(checks.find((c) => c.checkId === '_service_maintenance:node:web-2:8080')?.notes).toBe(
      'switchyard: held out of the live color: because',
    );
    expect(checks.find((c) => c.checkId === 'node:web-2:8080:hold')).toMatchObject({
      status: 'critical',
      notes: 'held',
    });

    await client.deregisterCheck('node:web-2:8080:hold');
    await client.deregisterCheck('node:web-2:8080:hold'); // already gone: not an error
    const after = (await client.healthService('web2')).value[0]!.checks.map((c) => c.checkId);
    expect(after).not.toContain('node:web-2:8080:hold');
    expect(after).toContain('_service_maintenance:node:web-2:8080');
    await client.deregisterService('node:web-2:8080');
  });

  it('blocks until the watched data changes and reports the new index', async () => {
    const first = await client.catalogServices();
    const started = Date.now();
    const blocked = client.catalogServices({ index: first.index, waitMs: 10_000 });
    setTimeout(() => {
      void client.registerService({
        id: 'late',
        name: 'late',
        tags: [],
        address: '127.0.0.1',
        port: 1,
        meta: {},
        checks: [],
      });
    }, 300);
    const second = await blocked;
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(second.index).toBeGreaterThan(first.index);
    expect(Object.keys(second.value)).toContain('late');
  });

  it('aborts a blocking query when its signal fires', async () => {
    const { index } = await client.catalogServices();
    const ac = new AbortController();
    const started = Date.now();
    setTimeout(() => ac.abort(), 200);
    await expect(client.catalogServices({ index, waitMs: 30_000, signal: ac.signal })).rejects.toBeInstanceOf(
      ConsulError,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('puts, reads, lists and compares-and-sets KV entries', async () => {
    expect(await client.kvGet('sy/absent')).toBeUndefined();
    expect((await client.kvList('sy/none/')).value).toEqual([]);
    expect(await client.kvPut('sy/services/app/state', '{"live":"blue"}', { cas: 0 })).toBe(true);
    const entry = await client.kvGet('sy/services/app/state');
    expect(entry?.value).toBe('{"live":"blue"}');
    // A second create-only write loses, as does a write with a stale index.
    expect(await client.kvPut('sy/services/app/state', '{"live":"green"}', { cas: 0 })).toBe(false);
    expect(await client.kvPut('sy/services/app/state', '{"live":"green"}', { cas: entry!.modifyIndex })).toBe(true);
    expect(await client.kvPut('sy/services/app/state', '{"live":"red"}', { cas: entry!.modifyIndex })).toBe(false);
    const list = await client.kvList('sy/services/');
    expect(list.value.map((e) => [e.key, e.value])).toEqual([['sy/services/app/state', '{"live":"green"}']]);
    await client.kvDelete('sy/services/app/state');
    expect(await client.kvGet('sy/services/app/state')).toBeUndefined();
  });

  it('names the address when Consul cannot be reached, and refuses calls after close', async () => {
    const dead = new ConsulHttpClient({ address: '127.0.0.1:1', timeoutMs: 2_000 });
    await expect(dead.agentServices()).rejects.toThrow(/127\.0\.0\.1:1/);
    await dead.close();
    await dead.close();
    await expect(dead.agentServices()).rejects.toBeInstanceOf(ClosedError);
  });
});
