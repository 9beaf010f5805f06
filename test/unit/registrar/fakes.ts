import type {
  AgentService,
  BlockingOptions,
  CheckStatus,
  ConsulClient,
  HealthInstance,
  Indexed,
  KvEntry,
  ServiceRegistration,
} from '../../../src/consul/consul-client.js';
import type {
  ContainerInfo,
  ContainerSummary,
  DockerClient,
  DockerEvent,
  EventStreamOptions,
  ExecResult,
} from '../../../src/docker/docker-client.js';
import { ConsulError } from '../../../src/errors.js';

/** An in-memory Consul agent: the agent half the registrar uses, with a switch to make it unreachable. */
export class FakeConsul implements ConsulClient {
  readonly services = new Map<string, ServiceRegistration>();
  readonly maintenance = new Map<string, boolean>();
  readonly ttl = new Map<string, CheckStatus>();
  readonly calls: string[] = [];
  down = false;
  /** Delay every agent call by this many ms (to hold a lane busy). */
  delayMs = 0;

  private async gate(call: string): Promise<void> {
    this.calls.push(call);
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.down) throw new ConsulError(`Consul ${call} failed: connect ECONNREFUSED`);
  }

  async agentNodeName(): Promise<string> {
    await this.gate('self');
    return 'node-a';
  }
  async registerService(s: ServiceRegistration): Promise<void> {
    await this.gate(`register ${s.id}`);
    this.services.set(s.id, structuredClone(s));
    for (const c of s.checks) if (c.ttl) this.ttl.set(c.checkId, c.status ?? 'critical');
  }
  async deregisterService(id: string): Promise<void> {
    await this.gate(`deregister ${id}`);
    this.services.delete(id);
    this.maintenance.delete(id);
  }
  async agentServices(): Promise<AgentService[]> {
    await this.gate('services');
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
    await this.gate(`ttl ${checkId} ${status}`);
    this.ttl.set(checkId, status);
  }
  async setServiceMaintenance(id: string, enable: boolean): Promise<void> {
    await this.gate(`maintenance ${id} ${enable}`);
    this.maintenance.set(id, enable);
  }
  /** Simulates an agent restart without state. */
  loseEverything(): void {
    this.services.clear();
    this.maintenance.clear();
    this.ttl.clear();
  }
  catalogServices(_o?: BlockingOptions): Promise<Indexed<Record<string, string[]>>> {
    return Promise.reject(new Error('not used by the registrar'));
  }
  healthService(_n: string, _o?: BlockingOptions): Promise<Indexed<HealthInstance[]>> {
    return Promise.reject(new Error('not used by the registrar'));
  }
  kvList(_p: string, _o?: BlockingOptions): Promise<Indexed<KvEntry[]>> {
    return Promise.reject(new Error('not used by the registrar'));
  }
  kvGet(_k: string): Promise<KvEntry | undefined> {
    return Promise.reject(new Error('not used by the registrar'));
  }
  kvPut(_k: string, _v: string): Promise<boolean> {
    return Promise.reject(new Error('not used by the registrar'));
  }
  kvDelete(_k: string): Promise<void> {
    return Promise.reject(new Error('not used by the registrar'));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Containers in memory and an event stream the test pushes into (and can cut). */
export class FakeDocker implements DockerClient {
  readonly containers = new Map<string, ContainerInfo>();
  readonly subscriptions: Array<{ since?: string }> = [];
  private push: ((e: DockerEvent | 'end' | Error) => void) | undefined;
  private time = 1_700_000_000_000_000_000n;

  ping(): Promise<void> {
    return Promise.resolve();
  }

  async *events(options: EventStreamOptions): AsyncIterable<DockerEvent> {
    this.subscriptions.push(options.since ? { since: options.since } : {});
    const buffer: Array<DockerEvent | 'end' | Error> = [];
    let wake: (() => void) | undefined;
    this.push = (e) => {
      buffer.push(e);
      wake?.();
    };
    const onAbort = () => this.push?.('end');
    options.signal.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        while (buffer.length === 0) await new Promise<void>((r) => (wake = r));
        const e = buffer.shift()!;
        if (e === 'end') return;
        if (e instanceof Error) throw e;
        yield e;
      }
    } finally {
      options.signal.removeEventListener('abort', onAbort);
    }
  }

  get connected(): boolean {
    return this.push !== undefined;
  }

  emit(action: string, id: string, attributes: Record<string, string> = {}): void {
    const c = this.containers.get(id);
    this.time += 1_000_000n;
    this.push?.({ action, id, timeNano: this.time, attributes: { name: c?.name ?? id, ...attributes } });
  }

  endStream(): void {
    const p = this.push;
    this.push = undefined;
    p?.('end');
  }

  failStream(err: Error): void {
    const p = this.push;
    this.push = undefined;
    p?.(err);
  }

  listContainers(): Promise<ContainerSummary[]> {
    return Promise.resolve(
      [...this.containers.values()]
        .filter((c) => c.running)
        .map((c) => ({ id: c.id, name: c.name, labels: c.labels, state: 'running' })),
    );
  }

  inspectContainer(id: string): Promise<ContainerInfo | undefined> {
    const c = this.containers.get(id);
    return Promise.resolve(c ? structuredClone(c) : undefined);
  }

  signalContainer(): Promise<void> {
    return Promise.reject(new Error('not used by the registrar'));
  }
  exec(): Promise<ExecResult> {
    return Promise.reject(new Error('not used by the registrar'));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

export function labelledContainer(n: number, o: Partial<ContainerInfo> = {}): ContainerInfo {
  return {
    id: `${n}`.padStart(4, '0').padEnd(64, 'a'),
    name: `web-${n}`,
    image: 'shop/web:1',
    hostname: 'h',
    labels: { color: 'blue' },
    env: {},
    running: true,
    ports: [{ containerPort: 8080, protocol: 'tcp', hostPort: 30000 + n, hostIp: '0.0.0.0' }],
    networks: [],
    networkMode: 'bridge',
    ...o,
  };
}
