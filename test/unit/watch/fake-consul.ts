import type {
  AgentService,
  BlockingOptions,
  ConsulClient,
  HealthInstance,
  Indexed,
  KvEntry,
} from '../../../src/consul/consul-client.js';
import { ConsulError } from '../../../src/errors.js';

/**
 * The catalog/health/KV half of ConsulClient over in-memory data, with real blocking semantics:
 * a query with an index at or above the current one waits until the data changes. `down()` makes
 * every query fail (and fails the waiting ones), as a stopped agent does.
 */
export class FakeConsul implements ConsulClient {
  private index = 100;
  private services = new Map<string, HealthInstance[]>();
  private kv = new Map<string, string>();
  private waiters = new Set<{ resolve: () => void; reject: (e: Error) => void }>();
  private isDown = false;
  /** How many queries are blocked right now, by what they watch. */
  readonly blocked = new Map<string, number>();
  readonly queries: string[] = [];

  setService(name: string, instances: HealthInstance[]): void {
    this.services.set(name, instances);
    this.bump();
  }

  removeService(name: string): void {
    this.services.delete(name);
    this.bump();
  }

  putKv(key: string, value: string): void {
    this.kv.set(key, value);
    this.bump();
  }

  /** An unrelated write: the index moves, the data does not. */
  touch(): void {
    this.bump();
  }

  down(): void {
    this.isDown = true;
    for (const w of this.waiters) w.reject(new ConsulError('connect ECONNREFUSED 127.0.0.1:8500'));
    this.waiters.clear();
  }

  /** Comes back; with `lostState`, empty and with a much lower index (a restarted -dev agent). */
  up(options: { lostState?: boolean } = {}): void {
    this.isDown = false;
    if (options.lostState) {
      this.services.clear();
      this.kv.clear();
      this.index = 5;
    }
  }

  catalogServices(options?: BlockingOptions): Promise<Indexed<Record<string, string[]>>> {
    return this.query('catalog', options, () => {
      const out: Record<string, string[]> = { consul: [] };
      for (const [name, list] of this.services) out[name] = [...new Set(list.flatMap((i) => i.tags))];
      return out;
    });
  }

  healthService(name: string, options?: BlockingOptions): Promise<Indexed<HealthInstance[]>> {
    return this.query(`health:${name}`, options, () => structuredClone(this.services.get(name) ?? []));
  }

  kvList(prefix: string, options?: BlockingOptions): Promise<Indexed<KvEntry[]>> {
    return this.query('kv', options, () =>
      [...this.kv]
        .filter(([k]) => k.startsWith(prefix))
        .map(([key, value]) => ({ key, value, modifyIndex: this.index })),
    );
  }

  private async query<T>(what: string, options: BlockingOptions = {}, read: () => T): Promise<Indexed<T>> {
    this.queries.push(what);
    if (this.isDown) throw new ConsulError('connect ECONNREFUSED 127.0.0.1:8500');
    if (options.index !== undefined && options.index >= this.index) {
      this.blocked.set(what, (this.blocked.get(what) ?? 0) + 1);
      try {
        await new Promise<void>((resolve, reject) => {
          const w = { resolve, reject };
          this.waiters.add(w);
          options.signal?.addEventListener(
            'abort',
            () => {
              this.waiters.delete(w);
              reject(new ConsulError('aborted'));
            },
            { once: true },
          );
        });
      } finally {
        this.blocked.set(what, (this.blocked.get(what) ?? 1) - 1);
      }
    }
    return { index: this.index, value: read() };
  }

  private bump(): void {
    this.index += 1;
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w.resolve();
  }

  agentNodeName(): Promise<string> {
    return Promise.resolve('lb-1');
  }
  registerService(): Promise<void> {
    return Promise.reject(new Error('not used by the watcher'));
  }
  deregisterService(): Promise<void> {
    return Promise.reject(new Error('not used by the watcher'));
  }
  agentServices(): Promise<AgentService[]> {
    return Promise.resolve([]);
  }
  updateTtlCheck(): Promise<void> {
    return Promise.reject(new Error('not used by the watcher'));
  }
  setServiceMaintenance(): Promise<void> {
    return Promise.reject(new Error('not used by the watcher'));
  }
  kvGet(key: string): Promise<KvEntry | undefined> {
    const value = this.kv.get(key);
    return Promise.resolve(value === undefined ? undefined : { key, value, modifyIndex: this.index });
  }
  kvPut(key: string, value: string): Promise<boolean> {
    this.putKv(key, value);
    return Promise.resolve(true);
  }
  kvDelete(key: string): Promise<void> {
    this.kv.delete(key);
    this.bump();
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
