import { describe, expect, it } from '@jest/globals';
import type { AgentService, ServiceRegistration } from '../../../src/consul/consul-client.js';
import { asAgentService, diffServices } from '../../../src/registrar/service-diff.js';

const reg = (id: string, o: Partial<ServiceRegistration> = {}): ServiceRegistration => ({
  id,
  name: 'web',
  tags: ['blue'],
  address: '',
  port: 8080,
  meta: { switchyard_owner: 'me', container_id: 'c1' },
  checks: [],
  ...o,
});
const agent = (id: string, o: Partial<AgentService> = {}): AgentService => ({ ...asAgentService(reg(id)), ...o });

describe('diffServices', () => {
  it('registers what is missing and leaves what matches', () => {
    const plan = diffServices([reg('a'), reg('b')], [agent('a')], 'me');
    expect(plan.register.map((s) => s.id)).toEqual(['b']);
    expect(plan.unchanged.map((s) => s.id)).toEqual(['a']);
    expect(plan.deregister).toEqual([]);
  });

  it('re-registers a service whose port, address, tags, name or Meta changed', () => {
    for (const change of [
      { port: 9 },
      { address: '10.0.0.1' },
      { tags: ['green'] },
      { name: 'api' },
      { meta: { switchyard_owner: 'me', container_id: 'c2' } },
    ]) {
      const plan = diffServices([reg('a')], [agent('a', change)], 'me');
      expect(plan.register.map((s) => s.id)).toEqual(['a']);
    }
  });

  it('deregisters our ghosts and never touches services someone else owns', () => {
    const foreignGhost = agent('x', { meta: { switchyard_owner: 'other-node' } });
    const unowned = agent('consul', { meta: {} });
    const plan = diffServices([], [agent('ghost'), foreignGhost, unowned], 'me');
    expect(plan.deregister.map((s) => s.id)).toEqual(['ghost']);
  });

  it('reports a desired ID the agent holds for someone else as a conflict instead of overwriting it', () => {
    const plan = diffServices([reg('shared')], [agent('shared', { meta: { owner: 'human' } })], 'me');
    expect(plan.conflicts.map((s) => s.id)).toEqual(['shared']);
    expect(plan.register).toEqual([]);
    expect(plan.deregister).toEqual([]);
  });
});
