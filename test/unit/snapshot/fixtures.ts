import type { HealthCheckState, HealthInstance } from '../../../src/consul/consul-client.js';

/** A health-endpoint instance as the adapter returns it, passing by default. */
export function healthInstance(
  service: string,
  id: string,
  overrides: Partial<HealthInstance> & { color?: string; status?: HealthCheckState['status'] } = {},
): HealthInstance {
  const { color, status, ...rest } = overrides;
  return {
    node: 'node-1',
    nodeAddress: '10.0.0.1',
    serviceId: id,
    serviceName: service,
    address: '10.0.0.5',
    port: 8080,
    tags: color ? [color] : [],
    meta: color ? { color } : {},
    checks: [
      { checkId: 'serfHealth', name: 'Serf Health Status', status: 'passing', output: '', serviceId: '' },
      { checkId: `service:${id}`, name: 'http', status: status ?? 'passing', output: '', serviceId: id },
    ],
    ...rest,
  };
}
