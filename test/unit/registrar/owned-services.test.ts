import { describe, expect, it } from '@jest/globals';
import type { AgentService, ServiceRegistration } from '../../../src/consul/consul-client.js';
import { OwnedServices } from '../../../src/registrar/owned-services.js';

const svc = (id: string, owner = 'node-a', containerId = 'c1'): AgentService => ({
  id,
  name: 'web',
  tags: [],
  address: '',
  port: 1,
  meta: { switchyard_owner: owner, container_id: containerId },
});
const reg = (id: string): ServiceRegistration => ({ ...svc(id), checks: [] });

describe('OwnedServices', () => {
  it('keeps only this owner’s services, with their maintenance reasons; others are foreign', () => {
    const owned = new OwnedServices('node-a');
    owned.replace([svc('a'), svc('b', 'node-b')], new Map([['a', 'why']]), owned.begin());
    expect(owned.ids()).toEqual(['a']);
    const view = owned.view(undefined);
    expect([...view.foreign]).toEqual(['b']);
    expect(view.maintenance.get('a')).toBe('why');
    expect(owned.ownsContainer('c1')).toBe(true);
  });

  it('a refresh answer older than a write made while it was in flight does not undo that write', () => {
    const owned = new OwnedServices('node-a');
    owned.replace([svc('old')], new Map(), owned.begin());
    const mark = owned.begin();
    // While the agent is being asked: a lane registers `new` and deregisters `old`.
    owned.registered(reg('new'), 'passing', 0);
    owned.deregistered('old');
    owned.replace([svc('old')], new Map(), mark);
    expect(owned.ids()).toEqual(['new']);
    expect(owned.missing(new Set(), mark)).toEqual([]);
    // The next refresh is newer than both writes: the agent's answer wins.
    owned.replace([svc('old')], new Map(), owned.begin());
    expect(owned.ids()).toEqual(['old']);
    expect(owned.missing(new Set(), owned.begin())).toEqual(['old']);
  });

  it('a write still in flight is newer than any read: the agent applies it before it answers it', async () => {
    const owned = new OwnedServices('node-a');
    owned.replace([svc('gone')], new Map(), owned.begin());
    let answer!: () => void;
    // The deregistration is sent before the read begins and answered after the read's answer.
    const write = owned.writing('gone', () => new Promise<void>((r) => (answer = r)));
    const mark = owned.begin();
    expect(owned.missing(new Set(), mark)).toEqual([]);
    owned.replace([], new Map(), mark);
    expect(owned.ids()).toEqual(['gone']);
    answer();
    await write;
    owned.deregistered('gone');
    expect(owned.missing(new Set(), mark)).toEqual([]);
    // A failed write is no longer in flight either; a read after it decides.
    owned.replace([svc('x')], new Map(), owned.begin());
    await expect(owned.writing('x', () => Promise.reject(new Error('refused')))).rejects.toThrow('refused');
    expect(owned.missing(new Set(), owned.begin())).toEqual(['x']);
    owned.lost(['x']);
    expect(owned.ids()).toEqual([]);
  });

  it('a deregistration forgets the maintenance reason and the last health written', () => {
    const owned = new OwnedServices('node-a');
    owned.registered(reg('a'), 'passing', 5);
    owned.maintenanceSet('a', 'drain');
    expect(owned.view(undefined).health.get('a')).toEqual({ status: 'passing', at: 5 });
    owned.deregistered('a');
    const view = owned.view(undefined);
    expect(view.maintenance.has('a')).toBe(false);
    expect(view.health.has('a')).toBe(false);
  });
});
