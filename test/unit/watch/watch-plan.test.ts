import { describe, expect, it } from '@jest/globals';
import type { NodeCheck } from '../../../src/consul/consul-client.js';
import { catalogMoveExplained, checkDigests, planRefresh, type RefreshInput } from '../../../src/watch/watch-plan.js';
import { healthInstance } from '../snapshot/fixtures.js';

const check = (
  service: string,
  id: string,
  status: NodeCheck['status'] = 'passing',
  modifyIndex = 10,
  node = 'n1',
) => ({
  node,
  checkId: `service:${id}`,
  serviceId: id,
  serviceName: service,
  status,
  modifyIndex,
});
const serf = (node: string, status: NodeCheck['status'] = 'passing', modifyIndex = 5): NodeCheck => ({
  node,
  checkId: 'serfHealth',
  serviceId: '',
  serviceName: '',
  status,
  modifyIndex,
});

function input(overrides: Partial<RefreshInput>): RefreshInput {
  const digests = checkDigests([check('web', 'w1'), check('api', 'a1'), serf('n1')]);
  return {
    before: ['api', 'web'],
    after: ['api', 'web'],
    tagsBefore: { api: [], web: ['blue'] },
    tagsAfter: { api: [], web: ['blue'] },
    checksBefore: digests,
    checksAfter: digests,
    health: new Map(),
    ...overrides,
  };
}

describe('planRefresh', () => {
  it('fetches nothing when neither watch shows a change', () => {
    expect(planRefresh(input({}))).toEqual({ fetch: [], drop: [] });
  });

  it('fetches a new service and drops one that left', () => {
    expect(planRefresh(input({ after: ['api', 'db'], tagsAfter: { api: [], db: [] } }))).toEqual({
      fetch: ['db'],
      drop: ['web'],
    });
  });

  it('fetches a service whose tags changed (order does not matter)', () => {
    expect(planRefresh(input({ tagsAfter: { api: [], web: ['green', 'blue'] } })).fetch).toEqual(['web']);
    expect(
      planRefresh(input({ tagsBefore: { api: [], web: ['a', 'b'] }, tagsAfter: { api: [], web: ['b', 'a'] } })).fetch,
    ).toEqual([]);
  });

  it('fetches a service whose checks changed status, were rewritten, added or removed', () => {
    const base = [check('api', 'a1'), serf('n1')];
    const plan = (checks: NodeCheck[]) =>
      planRefresh(
        input({ checksAfter: checkDigests(checks), checksBefore: checkDigests([check('web', 'w1'), ...base]) }),
      ).fetch;
    expect(plan([check('web', 'w1', 'critical'), ...base])).toEqual(['web']);
    expect(plan([check('web', 'w1', 'passing', 11), ...base])).toEqual(['web']);
    expect(plan([check('web', 'w1'), check('web', 'w2'), ...base])).toEqual(['web']);
    expect(plan(base)).toEqual(['web']);
  });

  it('fetches every service with an instance on a node whose own checks changed', () => {
    const health = new Map([
      ['web', [healthInstance('web', 'w1', { node: 'n2' })]],
      ['api', [healthInstance('api', 'a1', { node: 'n1' })]],
    ]);
    const before = checkDigests([check('web', 'w1', 'passing', 10, 'n2'), check('api', 'a1'), serf('n1'), serf('n2')]);
    const after = checkDigests([
      check('web', 'w1', 'passing', 10, 'n2'),
      check('api', 'a1'),
      serf('n1'),
      serf('n2', 'critical', 40),
    ]);
    expect(planRefresh(input({ health, checksBefore: before, checksAfter: after })).fetch).toEqual(['web']);
  });
});

describe('catalogMoveExplained', () => {
  it('accepts a catalog index a check was written at, or the check list was answered at', () => {
    const digests = checkDigests([check('web', 'w1', 'passing', 42)]);
    expect(catalogMoveExplained(42, new Set(), digests)).toBe(true);
    expect(catalogMoveExplained(43, new Set([43]), digests)).toBe(true);
    expect(catalogMoveExplained(44, new Set([43]), digests)).toBe(false);
  });
});
