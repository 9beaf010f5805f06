import { describe, expect, it } from '@jest/globals';
import { parseShowStat, parseTrafficLine } from '../../../src/proxy/traffic-counters.js';
import { countersByColor } from '../../../src/render/traffic-publisher.js';
import type { Snapshot } from '../../../src/snapshot/snapshot.js';

const SHOW_STAT = [
  '# pxname,svname,qcur,req_tot,hrsp_5xx,rtime,status',
  'main,FRONTEND,0,900,3,,OPEN',
  'web_live,blue_1,0,600,0,4,UP',
  'web_live,green_1,0,100,7,120,UP',
  'web_live,green_2,0,300,1,40,UP',
  'web_live,BACKEND,0,1000,8,20,UP',
  'web_c_green,green_1,0,50,0,10,UP',
  'web_preview,green_1,0,999,999,999,UP',
  '',
].join('\n');

const snapshot: Snapshot = {
  services: [
    {
      name: 'web',
      live: 'blue',
      idle: 'green',
      state: { live: 'blue', weights: { blue: 90, green: 10 } },
      instances: [
        {
          id: 'b1',
          service: 'web',
          node: 'n',
          address: '10.0.0.1',
          port: 80,
          color: 'blue',
          tags: [],
          meta: {},
          health: 'passing',
          maintenance: false,
        },
        {
          id: 'g1',
          service: 'web',
          node: 'n',
          address: '10.0.0.2',
          port: 80,
          color: 'green',
          tags: [],
          meta: {},
          health: 'passing',
          maintenance: false,
        },
      ],
    },
  ],
};

describe('traffic counters at the proxy', () => {
  it('reads HAProxy show stat server rows by header name', () => {
    const m = parseShowStat(SHOW_STAT);
    expect(m.get('web_live/green_1')).toEqual({ requests: 100, errors: 7, avgMs: 120 });
    expect(m.has('web_live/BACKEND')).toBe(false);
    expect(m.has('main/FRONTEND')).toBe(false);
    expect(parseShowStat('garbage').size).toBe(0);
  });

  it('adds HAProxy servers up per color from the main-port and color backends, not the preview port', () => {
    const out = countersByColor('haproxy', parseShowStat(SHOW_STAT), snapshot);
    expect(out.web?.green).toEqual({ requests: 450, errors: 8, avgMs: 54 });
    expect(out.web?.blue).toEqual({ requests: 600, errors: 0, avgMs: 4 });
  });

  it('reads nginx traffic log lines, the last upstream tried answering', () => {
    expect(parseTrafficLine('{"u":"10.0.0.1:80, 10.0.0.2:80","s":"502","t":"0.250"}')).toEqual({
      upstreams: ['10.0.0.1:80', '10.0.0.2:80'],
      status: 502,
      ms: 250,
    });
    expect(parseTrafficLine('{"u":"","s":"404","t":"0.000"}')).toBeUndefined();
    expect(parseTrafficLine('not json')).toBeUndefined();
    const out = countersByColor(
      'nginx',
      new Map([['10.0.0.2:80', { requests: 5, errors: 1, histogram: [5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] }]]),
      snapshot,
    );
    expect(out.web?.green).toMatchObject({ requests: 5, errors: 1 });
    expect(out.web?.blue).toBeUndefined();
  });
});
