import { describe, expect, it } from '@jest/globals';
import {
  FAILED_APPLIES_BEFORE_UNHEALTHY,
  RENDER_START_GRACE_MS,
  WATCH_FAILURE_GRACE_MS,
  renderHealth,
  type RenderHealthInput,
} from '../../../src/render/render-health.js';

const T0 = Date.parse('2030-01-01T00:00:00Z');

function input(over: Partial<RenderHealthInput> = {}): RenderHealthInput {
  return {
    now: T0 + 60_000,
    startedAt: T0,
    consul: { reachable: true },
    watchProblem: undefined,
    applies: { lastSuccessAt: T0 + 1_000, consecutiveFailures: 0, lastError: undefined },
    ...over,
  };
}

describe('render role health', () => {
  it('is ok once a config is applied and Consul answers', () => {
    expect(renderHealth(input())).toEqual({ status: 'ok', message: 'config applied at 2030-01-01T00:00:01.000Z' });
  });

  it('is unhealthy while Consul is unreachable, saying since when and why', () => {
    const h = renderHealth(
      input({ consul: { reachable: false, downSince: T0 + 40_000, lastError: 'no answer within 3000 ms' } }),
    );
    expect(h).toEqual({
      status: 'unhealthy',
      message: 'cannot reach Consul for 20s (no answer within 3000 ms); the proxy keeps its last config',
      since: '2030-01-01T00:00:40.000Z',
    });
  });

  it('counts a failing watch query only once it has failed for a while', () => {
    const problem = { since: T0 + 59_000, message: 'query for health of app failed: ACL not found' };
    expect(renderHealth(input({ watchProblem: problem })).status).toBe('ok');
    const later = renderHealth(input({ watchProblem: problem, now: T0 + 59_000 + WATCH_FAILURE_GRACE_MS }));
    expect(later).toEqual({
      status: 'unhealthy',
      message: 'Consul queries fail: query for health of app failed: ACL not found; the proxy keeps its last config',
      since: '2030-01-01T00:00:59.000Z',
    });
  });

  it('is starting until the first config is applied, then unhealthy after the start grace', () => {
    const never = { lastSuccessAt: undefined, consecutiveFailures: 2, lastError: 'haproxy -c rejected the candidate' };
    expect(renderHealth(input({ applies: never, now: T0 + 5_000 }))).toEqual({
      status: 'starting',
      message: 'no proxy config applied yet; last attempt: haproxy -c rejected the candidate',
      since: '2030-01-01T00:00:00.000Z',
    });
    expect(renderHealth(input({ applies: never, now: T0 + RENDER_START_GRACE_MS }))).toEqual({
      status: 'unhealthy',
      message: 'no proxy config applied in the 30s since start; last attempt: haproxy -c rejected the candidate',
      since: '2030-01-01T00:00:00.000Z',
    });
  });

  it(`is unhealthy after ${FAILED_APPLIES_BEFORE_UNHEALTHY} failed applies in a row, not before`, () => {
    const applies = (n: number) => ({
      lastSuccessAt: T0 + 1_000,
      consecutiveFailures: n,
      lastError: 'reload failed: no new worker',
    });
    expect(renderHealth(input({ applies: applies(FAILED_APPLIES_BEFORE_UNHEALTHY - 1) })).status).toBe('ok');
    expect(renderHealth(input({ applies: applies(FAILED_APPLIES_BEFORE_UNHEALTHY) }))).toEqual({
      status: 'unhealthy',
      message:
        'the last 3 applies failed (the proxy serves the config applied at 2030-01-01T00:00:01.000Z): reload failed: no new worker',
    });
    expect(renderHealth(input({ applies: applies(1), failedAppliesThreshold: 1 })).status).toBe('unhealthy');
  });

  it('puts Consul first when several things are wrong', () => {
    const h = renderHealth(
      input({
        consul: { reachable: false, downSince: T0, lastError: 'connect ECONNREFUSED' },
        applies: { lastSuccessAt: undefined, consecutiveFailures: 0, lastError: undefined },
      }),
    );
    expect(h.message).toMatch(/^cannot reach Consul/);
  });
});
