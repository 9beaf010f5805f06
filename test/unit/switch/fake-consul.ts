import type {
  AgentService,
  BlockingOptions,
  CheckStatus,
  ConsulClient,
  HealthInstance,
  Indexed,
  KvEntry,
} from '../../../src/consul/consul-client.js';

/**
 * An in-memory ConsulClient with Consul's KV check-and-set semantics and a settable health
 * catalog. Blocking reads answer at once (a test drives time itself).
 */
export class FakeConsul implements ConsulClient {
  private index = 10;
  readonly kv = new Map<string, KvEntry>();
  readonly health = new Map<string, HealthInstance[]>();
  /** Called before each kvPut, so a test can make another writer win the race. */
  beforePut: ((key: string) => void) | undefined;
  healthReads = 0;
  failHealth: Error | undefined;

  agentNodeName(): Promise<string> {
    return Promise.resolve('fake-node');
  }
  registerService(): Promise<void> {
    return Promise.resolve();
  }
  deregisterService(): Promise<void> {
    return Promise.resolve();
  }
  agentServices(): Promise<AgentService[]> {
    return Promise.resolve([]);
  }
  updateTtlCheck(): Promise<void> {
    return Promise.resolve();
  }
  setServiceMaintenance(): Promise<void> {
    return Promise.resolve();
  }
  catalogServices(): Promise<Indexed<Record<string, string[]>>> {
    const value: Record<string, string[]> = { consul: [] };
    for (const name of this.health.keys()) value[name] = [];
    return Promise.resolve({ index: this.index, value });
  }
  healthService(name: string, options?: BlockingOptions): Promise<Indexed<HealthInstance[]>> {
    void options;
    this.healthReads += 1;
    if (this.failHealth) return Promise.reject(this.failHealth);
    return Promise.resolve({ index: this.index, value: structuredClone(this.health.get(name) ?? []) });
  }
  kvList(prefix: string): Promise<Indexed<KvEntry[]>> {
    const value = [...this.kv.values()]
      .filter((e) => e.key.startsWith(prefix))
      .sort((a, b) => a.key.localeCompare(b.key));
    return Promise.resolve({ index: this.index, value: structuredClone(value) });
  }
  kvGet(key: string): Promise<KvEntry | undefined> {
    const e = this.kv.get(key);
    return Promise.resolve(e ? { ...e } : undefined);
  }
  kvPut(key: string, value: string, options: { cas?: number } = {}): Promise<boolean> {
    this.beforePut?.(key);
    const current = this.kv.get(key);
    if (options.cas !== undefined && (current?.modifyIndex ?? 0) !== options.cas) return Promise.resolve(false);
    this.set(key, value);
    return Promise.resolve(true);
  }
  kvDelete(key: string): Promise<void> {
    this.kv.delete(key);
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Writes as another client would, moving the index. */
  set(key: string, value: string): void {
    this.index += 1;
    this.kv.set(key, { key, value, modifyIndex: this.index });
  }

  setHealth(service: string, instances: HealthInstance[]): void {
    this.index += 1;
    this.health.set(service, instances);
  }
}

export function instance(
  id: string,
  color: string | undefined,
  status: CheckStatus = 'passing',
  extra: Partial<HealthInstance> = {},
): HealthInstance {
  return {
    node: 'n1',
    nodeAddress: '127.0.0.1',
    serviceId: id,
    serviceName: 'app',
    address: '10.0.0.1',
    port: 8080 + Number(id.replace(/\D/g, '') || 0),
    tags: [],
    meta: color ? { color } : {},
    checks: [
      { checkId: 'serfHealth', name: 'Serf Health Status', status: 'passing', output: '', serviceId: '' },
      {
        checkId: `service:${id}`,
        name: 'http check',
        status,
        output: status === 'passing' ? 'ok' : 'HTTP 500',
        serviceId: id,
      },
    ],
    ...extra,
  };
}
