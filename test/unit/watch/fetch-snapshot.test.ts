import { describe, expect, it } from '@jest/globals';
import { DEFAULT_COLORS } from '../../../src/snapshot/build-snapshot.js';
import { fetchSnapshot } from '../../../src/watch/fetch-snapshot.js';
import { healthInstance } from '../snapshot/fixtures.js';
import { FakeConsul } from '../../helpers/fake-consul.js';

describe('fetchSnapshot (render --once)', () => {
  it('reads the catalog, each service and the KV states in one non-blocking round', async () => {
    const consul = new FakeConsul();
    consul.setService('web', [
      healthInstance('web', 'b', { color: 'blue' }),
      healthInstance('web', 'g', { color: 'green', address: '10.0.0.6' }),
    ]);
    consul.setService('redis', [healthInstance('redis', 'r')]);
    consul.putKv('switchyard/services/web/state', JSON.stringify({ live: 'green' }));
    consul.putKv('switchyard/services/api/state', 'nonsense');
    const { snapshot, stateProblems } = await fetchSnapshot(consul, 'switchyard', { colors: DEFAULT_COLORS });
    expect(snapshot.services.map((s) => [s.name, s.live, s.idle, s.instances.length])).toEqual([
      ['web', 'green', 'blue', 2],
    ]);
    expect(stateProblems.map((p) => p.key)).toEqual(['switchyard/services/api/state']);
    expect(consul.blocked.size).toBe(0);
  });

  it('fails as a whole when Consul fails', async () => {
    const consul = new FakeConsul();
    consul.setService('web', [healthInstance('web', 'b', { color: 'blue' })]);
    consul.down();
    await expect(fetchSnapshot(consul, 'switchyard', { colors: DEFAULT_COLORS })).rejects.toThrow('ECONNREFUSED');
  });
});
