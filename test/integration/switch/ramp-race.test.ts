import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ConsulClient } from '../../../src/consul/consul-client.js';
import { ConsulHttpClient } from '../../../src/consul/consul-http-client.js';
import { stateKey } from '../../../src/domain/service-state.js';
import { silentLogger } from '../../../src/log/logger.js';
import { SwitchControl } from '../../../src/switch/switch-control.js';
import { TestConsulAgent } from '../../helpers/consul-agent.js';
import { register } from '../render/render-fixtures.js';

/**
 * A canary ramp against a real Consul while another operator writes the state between one of the
 * ramp's writes and the next step: the ramp must stop and leave their state, not adopt it.
 */
describe('canary ramp with a concurrent writer (real Consul)', () => {
  let agent: TestConsulAgent;
  const clients: ConsulHttpClient[] = [];
  const client = () => {
    const c = new ConsulHttpClient({ address: agent.address });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    agent = await TestConsulAgent.start();
    await register(agent, { id: 'app-b1', name: 'app', port: 9001, color: 'blue' });
    await register(agent, { id: 'app-g1', name: 'app', port: 9002, color: 'green' });
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) await c.close();
    await agent?.stop();
  });

  it('stops after the step another writer overtook, leaving their state', async () => {
    const consul = client();
    const bob = client();
    const key = stateKey('switchyard', 'app');
    let historyPuts = 0;
    // The ramp's own client, with bob's write landing right after the ramp's first state write
    // (before its history entry): the moment the old code re-read the index and adopted bob's.
    const racing = new Proxy(consul, {
      get(target, prop, receiver) {
        if (prop === 'kvPut')
          return async (k: string, value: string, options?: { cas?: number }) => {
            if (k.endsWith('/history') && historyPuts++ === 0)
              await bob.kvPut(key, JSON.stringify({ live: 'blue', updatedBy: 'bob@ops2' }));
            return target.kvPut(k, value, options);
          };
        const v: unknown = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    }) as ConsulClient;
    const control = new SwitchControl({ consul: racing, kvPrefix: 'switchyard', logger: silentLogger() });
    const steps: number[] = [];
    const ramp = control.ramp(
      'app',
      'green',
      [25, 50, 100],
      50,
      { minPassing: 1, force: false, by: 'alice@ops1' },
      undefined,
      (_, s) => steps.push(s),
    );
    await expect(ramp).rejects.toThrow('changed by someone else during the canary');
    expect(steps).toEqual([25]);
    const stored = await bob.kvGet(key);
    expect(JSON.parse(stored!.value)).toEqual({ live: 'blue', updatedBy: 'bob@ops2' });
  }, 30_000);
});
