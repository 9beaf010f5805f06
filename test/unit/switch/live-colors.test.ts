import { describe, expect, it } from '@jest/globals';
import { ConsulLiveColors } from '../../../src/switch/live-colors.js';
import { stateKey } from '../../../src/domain/service-state.js';
import { FakeConsul, instance } from '../../helpers/fake-consul.js';

const HELD = 'switchyard: held out of the live color: container b3 runs app:2, live blue runs app:1';

function consulWith(): FakeConsul {
  const consul = new FakeConsul({ blocking: false });
  consul.setService('app', [
    instance('b1', 'blue', 'passing', { node: 'host-1', meta: { color: 'blue', image: 'app:1' } }),
    instance('b2', 'blue', 'critical', { node: 'host-2', meta: { color: 'blue', image: 'app:1' } }),
    instance('b3', 'blue', 'passing', {
      node: 'host-2',
      meta: { color: 'blue', image: 'app:2' },
      checks: [
        {
          checkId: '_service_maintenance:b3',
          name: 'Service Maintenance Mode',
          status: 'critical',
          output: '',
          notes: HELD,
          serviceId: 'b3',
        },
      ],
    }),
    instance('g1', 'green', 'passing', { node: 'host-1', meta: { color: 'green', image: 'app:2' } }),
  ]);
  return consul;
}

describe('ConsulLiveColors', () => {
  it('without stored state: the default rule (first color with a passing instance), every instance of it on every host', async () => {
    const view = await new ConsulLiveColors(consulWith(), 'switchyard').liveColor('app');
    expect(view.live).toBe('blue');
    expect(view.instances.map((i) => [i.serviceId, i.node, i.meta.image, i.maintenance])).toEqual([
      ['b1', 'host-1', 'app:1', undefined],
      ['b2', 'host-2', 'app:1', undefined],
      ['b3', 'host-2', 'app:2', HELD],
    ]);
  });

  it('the color `switch` stored in KV wins', async () => {
    const consul = consulWith();
    consul.putKv(stateKey('switchyard', 'app'), JSON.stringify({ live: 'green', previous: 'blue' }));
    const view = await new ConsulLiveColors(consul, 'switchyard').liveColor('app');
    expect(view).toEqual({ live: 'green', instances: [expect.objectContaining({ serviceId: 'g1' })] });
  });

  it('a service nobody serves yet has no live color', async () => {
    expect(await new ConsulLiveColors(new FakeConsul({ blocking: false }), 'switchyard').liveColor('none')).toEqual({
      live: undefined,
      instances: [],
    });
  });
});
