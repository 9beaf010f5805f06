import type {
  AgentService,
  BlockingOptions,
  CheckStatus,
  ConsulClient,
  HealthInstance,
  Indexed,
  KvEntry,
  NodeCheck,
  ServiceRegistration,
  SessionOptions,
} from '../../src/consul/consul-client.js';
import { ConsulError } from '../../src/errors.js';

export interface FakeConsulOptions {
  /**
   * true (the default): a blocking read whose index is at or above the current one waits until
   * the data changes, as Consul does. false: every read answers at once, for tests that drive
   * time themselves.
   */
  blocking?: boolean;
}

/**
 * ConsulClient in memory. The agent half (registrations, maintenance, TTL checks) and the catalog
 * half (health per service, set by the test with `setService`, and KV with ModifyIndex and
 * check-and-set) are kept apart, as a unit test drives one or the other. Every write moves one
 * index. `down()` makes every call fail (and fails the waiting queries), as a stopped agent does.
 */
export class FakeConsul implements ConsulClient {
  /** The agent's registrations, by service id. */
  readonly services = new Map<string, ServiceRegistration>();
  readonly maintenance = new Map<string, boolean>();
  /** The reason given with each maintenance switched on, by service id. */
  readonly maintenanceReasons = new Map<string, string>();
  readonly ttl = new Map<string, CheckStatus>();
  /** Every agent call, e.g. `register <id>`, `maintenance <id> true`. */
  readonly calls: string[] = [];
  /** Delay every agent call by this many ms (to hold a lane busy). */
  delayMs = 0;

  /** The catalog: service name → instances. */
  readonly health = new Map<string, HealthInstance[]>();
  readonly kv = new Map<string, KvEntry>();
  /** Every catalog, health and KV-list read, by what it watches (`catalog`, `health:<name>`, `kv`). */
  readonly queries: string[] = [];
  /** How many queries are blocked right now, by what they watch. */
  readonly blocked = new Map<string, number>();
  /** Called before each kvPut, so a test can make another writer win the race. */
  beforePut: ((key: string) => void) | undefined;

  /** Live sessions by ID. */
  readonly sessions = new Map<string, SessionOptions>();
  /** Key → the time (Date.now()) before which nobody may acquire it (Consul's lock-delay). */
  readonly lockDelayUntil = new Map<string, number>();
  private sessionSeq = 0;

  /** The index at which each service's instances were last set: its checks' ModifyIndex. */
  private readonly serviceIndex = new Map<string, number>();
  private index = 100;
  /** The checks table's index: moves only when a service's checks are written or removed. */
  private checksIndex = 100;
  private isDown = false;
  private readonly blocking: boolean;
  private waiters = new Set<{ resolve: () => void; reject: (e: Error) => void }>();

  constructor(options: FakeConsulOptions = {}) {
    this.blocking = options.blocking ?? true;
  }

  /**
   * Sets a service's instances. `checksUnchanged`: a write only the services table sees (an address
   * changed in place), so its checks keep their ModifyIndex.
   */
  setService(name: string, instances: HealthInstance[], options: { checksUnchanged?: boolean } = {}): void {
    this.health.set(name, instances);
    this.bump();
    if (!options.checksUnchanged || !this.serviceIndex.has(name)) {
      this.serviceIndex.set(name, this.index);
      this.checksIndex = this.index;
    }
  }

  removeService(name: string): void {
    this.health.delete(name);
    this.serviceIndex.delete(name);
    this.bump();
    this.checksIndex = this.index;
  }

  /** Writes as another client would, moving the index. */
  putKv(key: string, value: string): void {
    this.bump();
    this.kv.set(key, { key, value, modifyIndex: this.index });
  }

  /** An unrelated write: the index moves, the data does not. */
  touch(): void {
    this.bump();
  }

  down(): void {
    this.isDown = true;
    for (const w of this.waiters) w.reject(this.refused('query'));
    this.waiters.clear();
  }

  /** Comes back; with `lostState`, as `loseEverything()` leaves it. */
  up(options: { lostState?: boolean } = {}): void {
    this.isDown = false;
    if (options.lostState) this.loseEverything();
  }

  /** An agent restarted without state (a -dev agent): empty, with a much lower index. */
  loseEverything(): void {
    this.services.clear();
    this.maintenance.clear();
    this.maintenanceReasons.clear();
    this.ttl.clear();
    this.health.clear();
    this.kv.clear();
    this.serviceIndex.clear();
    this.index = 5;
    this.checksIndex = 5;
  }

  async agentNodeName(): Promise<string> {
    await this.agentCall('self');
    return 'node-a';
  }
  async registerService(s: ServiceRegistration): Promise<void> {
    await this.agentCall(`register ${s.id}`);
    this.services.set(s.id, structuredClone(s));
    for (const c of s.checks) if (c.ttl) this.ttl.set(c.checkId, c.status ?? 'critical');
  }
  async deregisterService(id: string): Promise<void> {
    await this.agentCall(`deregister ${id}`);
    this.services.delete(id);
    this.maintenance.delete(id);
    this.maintenanceReasons.delete(id);
  }
  async agentServices(): Promise<AgentService[]> {
    await this.agentCall('services');
    return [...this.services.values()].map((s) => ({
      id: s.id,
      name: s.name,
      tags: [...s.tags],
      address: s.address,
      port: s.port,
      meta: { ...s.meta },
    }));
  }
  async updateTtlCheck(checkId: string, status: CheckStatus): Promise<void> {
    await this.agentCall(`ttl ${checkId} ${status}`);
    this.ttl.set(checkId, status);
  }
  async deregisterCheck(checkId: string): Promise<void> {
    await this.agentCall(`deregister-check ${checkId}`);
    this.ttl.delete(checkId);
    for (const s of this.services.values()) s.checks = s.checks.filter((c) => c.checkId !== checkId);
  }
  async setServiceMaintenance(id: string, enable: boolean, reason: string): Promise<void> {
    await this.agentCall(`maintenance ${id} ${enable}`);
    this.maintenance.set(id, enable);
    if (enable) this.maintenanceReasons.set(id, reason);
    else this.maintenanceReasons.delete(id);
  }
  async agentMaintenance(): Promise<Map<string, string>> {
    await this.agentCall('checks');
    return new Map([...this.maintenanceReasons].filter(([id]) => this.maintenance.get(id) === true));
  }

  catalogServices(options?: BlockingOptions): Promise<Indexed<Record<string, string[]>>> {
    return this.query('catalog', options, () => {
      const out: Record<string, string[]> = { consul: [] };
      for (const [name, list] of this.health) out[name] = [...new Set(list.flatMap((i) => i.tags))];
      return out;
    });
  }
  healthService(name: string, options?: BlockingOptions): Promise<Indexed<HealthInstance[]>> {
    return this.query(`health:${name}`, options, () => structuredClone(this.health.get(name) ?? []));
  }
  /** Every check of every instance; a node's own checks once per node. */
  healthChecks(options?: BlockingOptions): Promise<Indexed<NodeCheck[]>> {
    return this.query(
      'health-state',
      options,
      () => {
        const out = new Map<string, NodeCheck>();
        for (const [name, list] of this.health)
          for (const i of list)
            for (const c of i.checks) {
              const serviceCheck = c.serviceId !== '';
              out.set(`${i.node}/${c.checkId}`, {
                node: i.node,
                checkId: c.checkId,
                serviceId: c.serviceId,
                serviceName: serviceCheck ? name : '',
                status: c.status,
                modifyIndex: serviceCheck ? (this.serviceIndex.get(name) ?? 1) : 1,
              });
            }
        return [...out.values()];
      },
      () => this.checksIndex,
    );
  }
  kvList(prefix: string, options?: BlockingOptions): Promise<Indexed<KvEntry[]>> {
    return this.query('kv', options, () =>
      structuredClone([...this.kv.values()].filter((e) => e.key.startsWith(prefix))).sort((a, b) =>
        a.key.localeCompare(b.key),
      ),
    );
  }
  async kvGet(key: string): Promise<KvEntry | undefined> {
    this.failIfDown(`kv get ${key}`);
    const e = this.kv.get(key);
    return e ? { ...e } : undefined;
  }
  async kvPut(key: string, value: string, options: { cas?: number } = {}): Promise<boolean> {
    this.failIfDown(`kv put ${key}`);
    this.beforePut?.(key);
    if (options.cas !== undefined && (this.kv.get(key)?.modifyIndex ?? 0) !== options.cas) return false;
    this.putKv(key, value);
    return true;
  }
  async kvDelete(key: string): Promise<void> {
    this.failIfDown(`kv delete ${key}`);
    this.kv.delete(key);
    this.bump();
  }
  async sessionCreate(options: SessionOptions): Promise<string> {
    this.failIfDown('session create');
    const id = `session-${++this.sessionSeq}`;
    this.sessions.set(id, { ...options });
    return id;
  }
  async sessionRenew(id: string): Promise<boolean> {
    this.failIfDown('session renew');
    return this.sessions.has(id);
  }
  async sessionDestroy(id: string): Promise<void> {
    this.failIfDown('session destroy');
    this.expireSession(id);
  }
  async kvAcquire(key: string, value: string, session: string): Promise<boolean> {
    this.failIfDown(`kv acquire ${key}`);
    if (!this.sessions.has(session)) throw new ConsulError(`invalid session "${session}"`, 500);
    const held = this.kv.get(key)?.session;
    if (held !== undefined && held !== session) return false;
    if (held === undefined && (this.lockDelayUntil.get(key) ?? 0) > Date.now()) return false;
    this.bump();
    this.kv.set(key, { key, value, modifyIndex: this.index, session });
    return true;
  }
  async kvRelease(key: string, value: string, session: string): Promise<boolean> {
    this.failIfDown(`kv release ${key}`);
    const e = this.kv.get(key);
    if (e?.session !== session) return false;
    this.bump();
    this.kv.set(key, { key, value, modifyIndex: this.index });
    return true;
  }
  /** Ends a session as a missed TTL does: its locks are released and lock-delay starts. */
  expireSession(id: string): void {
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    for (const [key, e] of this.kv) {
      if (e.session !== id) continue;
      this.bump();
      this.kv.set(key, { key, value: e.value, modifyIndex: this.index });
      this.lockDelayUntil.set(key, Date.now() + s.lockDelayMs);
    }
  }
  close(): Promise<void> {
    return Promise.resolve();
  }

  private async agentCall(call: string): Promise<void> {
    this.calls.push(call);
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    this.failIfDown(call);
  }

  /** `tableIndex`: the index this read reports and blocks on (Consul keeps one per table). */
  private async query<T>(
    what: string,
    options: BlockingOptions = {},
    read: () => T,
    tableIndex: () => number = () => this.index,
  ): Promise<Indexed<T>> {
    this.queries.push(what);
    this.failIfDown(what);
    if (this.blocking && options.index !== undefined && options.index >= tableIndex()) {
      this.blocked.set(what, (this.blocked.get(what) ?? 0) + 1);
      try {
        // Until this table's index moves (either way: an index reset is an answer too).
        const from = tableIndex();
        while (tableIndex() === from)
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
    return { index: tableIndex(), value: read() };
  }

  private failIfDown(what: string): void {
    if (this.isDown) throw this.refused(what);
  }

  private refused(what: string): ConsulError {
    return new ConsulError(`Consul ${what} failed: connect ECONNREFUSED 127.0.0.1:8500`);
  }

  private bump(): void {
    this.index += 1;
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w.resolve();
  }
}

/** One instance of `app` with its node check and one service check in `status`. */
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
