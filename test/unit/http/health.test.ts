import { describe, expect, it } from '@jest/globals';
import { healthReport, type PartState } from '../../../src/http/health.js';

const plain = { start: () => Promise.resolve(), close: () => Promise.resolve() };
const reporting = (status: 'ok' | 'starting' | 'unhealthy', message?: string) => ({
  ...plain,
  health: () => ({ status, ...(message ? { message } : {}) }),
});

describe('/healthz report', () => {
  it('is ok when every part runs and reports ok', () => {
    const parts: PartState[] = [
      { name: 'consul-client', part: plain, phase: 'running' },
      { name: 'render', part: reporting('ok', 'haproxy config live'), phase: 'running' },
    ];
    expect(healthReport(parts)).toEqual({
      status: 'ok',
      parts: {
        'consul-client': { status: 'ok', phase: 'running' },
        render: { status: 'ok', message: 'haproxy config live', phase: 'running' },
      },
    });
  });

  it('is starting while a part has not finished starting', () => {
    const r = healthReport([
      { name: 'http', part: plain, phase: 'running' },
      { name: 'registrar', part: plain, phase: 'starting' },
      { name: 'render', part: plain, phase: 'pending' },
    ]);
    expect(r.status).toBe('starting');
    expect(r.parts.registrar).toEqual({ status: 'starting', message: 'registrar is starting', phase: 'starting' });
  });

  it('is unhealthy when any part says so, with its reason, or when its check throws', () => {
    const r = healthReport([
      {
        name: 'render',
        part: reporting('unhealthy', 'no config applied yet: haproxy -c rejected it'),
        phase: 'running',
      },
      { name: 'registrar', part: reporting('starting'), phase: 'running' },
    ]);
    expect(r.status).toBe('unhealthy');
    expect(r.parts.render?.message).toBe('no config applied yet: haproxy -c rejected it');
    const broken = {
      ...plain,
      health: () => {
        throw new Error('boom');
      },
    };
    expect(healthReport([{ name: 'x', part: broken, phase: 'running' }]).parts.x).toEqual({
      status: 'unhealthy',
      message: 'health check failed: boom',
      phase: 'running',
    });
  });

  it('is unhealthy while shutting down, so load balancers stop sending traffic', () => {
    expect(healthReport([{ name: 'http', part: plain, phase: 'closing' }]).status).toBe('unhealthy');
  });
});
