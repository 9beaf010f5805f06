import { describe, expect, it } from '@jest/globals';
import { healthByColor, viewInstance } from '../../../src/switch/instance-health.js';
import { instance } from '../../helpers/fake-consul.js';

describe('instance health for switch decisions', () => {
  it('counts an instance as passing only when its own and its node checks pass', () => {
    expect(viewInstance(instance('a1', 'blue')).passing).toBe(true);
    const failing = viewInstance(instance('a2', 'blue', 'critical'));
    expect(failing).toMatchObject({ passing: false, health: 'critical', why: 'http check is critical: HTTP 500' });
    const nodeDown = instance('a3', 'blue');
    nodeDown.checks[0]!.status = 'critical';
    expect(viewInstance(nodeDown).passing).toBe(false);
    expect(viewInstance(instance('a4', 'blue', 'warning')).passing).toBe(false);
  });

  it('ignores checks of other services on the same node', () => {
    const i = instance('a1', 'blue');
    i.checks.push({ checkId: 'service:other', name: 'other', status: 'critical', output: '', serviceId: 'other' });
    expect(viewInstance(i).passing).toBe(true);
  });

  it('treats service or node maintenance as out of rotation', () => {
    const i = instance('a1', 'blue');
    i.checks.push({
      checkId: '_service_maintenance:a1',
      name: 'Service Maintenance Mode',
      status: 'critical',
      output: 'draining: container is stopping',
      serviceId: 'a1',
    });
    expect(viewInstance(i)).toMatchObject({ passing: false, maintenance: true });
    expect(viewInstance(i).why).toContain('maintenance');
  });

  it('a maintenance reason comes from the check’s Notes, where Consul keeps it (its Output is empty)', () => {
    const i = instance('a1', 'blue');
    const reason = `switchyard: held out of the live color: container a-1 runs app:2, live blue runs app:1 ${'x'.repeat(150)}`;
    i.checks.push({
      checkId: '_service_maintenance:a1',
      name: 'Service Maintenance Mode',
      status: 'critical',
      output: '',
      notes: reason,
      serviceId: 'a1',
    });
    // Longer than a check output may be, but whole: the images are what the operator needs.
    expect(viewInstance(i).why).toBe(`maintenance: ${reason}`);
  });

  it('takes the color from Meta, else from a color tag; a bad Meta color makes it uncolored', () => {
    expect(viewInstance(instance('a1', 'green')).color).toBe('green');
    expect(viewInstance(instance('a1', undefined, 'passing', { tags: ['v1', 'blue'] })).color).toBe('blue');
    expect(viewInstance(instance('a1', 'Bad Color!')).color).toBeUndefined();
  });

  it('groups by color in name order and leaves uncolored instances out', () => {
    const byColor = healthByColor([
      instance('g1', 'green'),
      instance('b1', 'blue', 'critical'),
      instance('b2', 'blue'),
      instance('x1', undefined),
    ]);
    expect([...byColor.keys()]).toEqual(['blue', 'green']);
    expect(byColor.get('blue')).toMatchObject({ total: 2, passing: 1 });
    expect(byColor.get('green')).toMatchObject({ total: 1, passing: 1 });
  });
});
