import type {
  ContainerInfo,
  ContainerSummary,
  DockerClient,
  DockerEvent,
  EventStreamOptions,
  ExecResult,
} from '../../../src/docker/docker-client.js';

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
