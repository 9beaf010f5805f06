import { describe, expect, it } from '@jest/globals';
import { describeEntry, formatStatus } from '../../../src/switch/status-format.js';
import type { ServiceStatus } from '../../../src/switch/switch-control.js';

const now = new Date('2030-01-01T01:00:00Z');

function status(over: Partial<ServiceStatus> = {}): ServiceStatus {
  return {
    service: 'app',
    live: 'green',
    idle: 'blue',
    liveStored: true,
    weights: undefined,
    colors: [
      {
        color: 'blue',
        total: 1,
        passing: 0,
        instances: [
          {
            id: 'h1:app-blue-1:8080',
            node: 'n1',
            address: '10.0.0.1',
            port: 8080,
            color: 'blue',
            health: 'critical',
            maintenance: false,
            passing: false,
            why: 'http check is critical: HTTP 500',
          },
        ],
      },
      {
        color: 'green',
        total: 1,
        passing: 1,
        instances: [
          {
            id: 'h1:app-green-1:8080',
            node: 'n1',
            address: '10.0.0.2',
            port: 8080,
            color: 'green',
            health: 'passing',
            maintenance: false,
            passing: true,
          },
        ],
      },
    ],
    uncolored: 0,
    lastChange: {
      at: '2030-01-01T00:55:00Z',
      by: 'alice@ops1',
      action: 'switch',
      from: 'blue',
      to: 'green',
      reason: 'v2',
    },
    problems: [],
    renderers: [{ node: 'lb1', at: '2030-01-01T00:55:01Z', live: 'green', weights: undefined, inSync: true }],
    ...over,
  };
}

describe('status table', () => {
  it('shows live, idle, weights, the last change, proxies and each instance with its health', () => {
    expect(formatStatus([status()], now)).toBe(
      [
        'app',
        '  live:     green',
        '  idle:     blue',
        '  weights:  all traffic to green',
        '  last:     switch blue → green, 5m ago (2030-01-01T00:55:00Z) by alice@ops1 (v2)',
        '  proxies:  lb1 serves green',
        '  instances: blue 0/1 passing, green 1/1 passing',
        '    COLOR  ROLE  INSTANCE             NODE  ADDRESS        HEALTH',
        '    blue   idle  h1:app-blue-1:8080   n1    10.0.0.1:8080  critical (http check is critical: HTTP 500)',
        '    green  live  h1:app-green-1:8080  n1    10.0.0.2:8080  passing',
        '',
      ].join('\n'),
    );
  });

  it('says when the live color is only derived, and shows canary weights and problems', () => {
    const out = formatStatus(
      [
        status({
          liveStored: false,
          weights: { green: 90, blue: 10 },
          lastChange: undefined,
          problems: ['bad history'],
        }),
      ],
      now,
    );
    expect(out).toContain('live:     green (default: first color with a passing instance)');
    expect(out).toContain('weights:  blue 10%, green 90%');
    expect(out).toContain('last:     never switched');
    expect(out).toContain('problem: bad history');
  });

  it('shows why an instance is in maintenance: the live-color guard names the container and both images', () => {
    const reason =
      'switchyard: held out of the live color: container app-green-2 runs shop/app:3, live green runs shop/app:2';
    const base = status();
    const green = base.colors[1]!;
    const held = {
      ...green.instances[0]!,
      id: 'h2:app-green-2:8080',
      node: 'n2',
      health: 'critical' as const,
      maintenance: true,
      passing: false,
      why: `maintenance: ${reason}`,
    };
    const out = formatStatus(
      [{ ...base, colors: [base.colors[0]!, { ...green, total: 2, instances: [...green.instances, held] }] }],
      now,
    );
    expect(out).toContain(`h2:app-green-2:8080  n2    10.0.0.2:8080  maintenance (${reason})`);
  });

  it('says so when there is nothing to show', () => {
    expect(formatStatus([], now)).toBe('No service has blue-green state or colored instances in Consul yet.\n');
  });

  it('describes canary steps by their weights', () => {
    expect(
      describeEntry(
        {
          at: '2030-01-01T00:59:30Z',
          by: 'ci@build',
          action: 'canary',
          from: 'blue',
          to: 'green',
          weights: { blue: 75, green: 25 },
        },
        now,
      ),
    ).toBe('canary blue 75%, green 25%, 30s ago (2030-01-01T00:59:30Z) by ci@build');
  });
});
