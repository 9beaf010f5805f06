import type {
  ContainerInfo,
  ContainerSummary,
  DockerClient,
  DockerEvent,
  EventStreamOptions,
  ExecResult,
} from '../../src/docker/docker-client.js';

/**
 * DockerClient in memory, for every unit test that needs Docker: containers the test sets, an event
 * stream it pushes into (and can end or fail), and a record of the signals and execs the sidecar
 * proxy drivers send, with the answer the test chooses.
 */
export class FakeDocker implements DockerClient {
  readonly containers = new Map<string, ContainerInfo>();
  readonly subscriptions: Array<{ since?: string }> = [];
  readonly execs: Array<{ id: string; cmd: string[] }> = [];
  readonly signals: Array<{ id: string; signal: string }> = [];
  execResult: ExecResult = { exitCode: 0, output: '' };
  signalError: Error | undefined;
  private push: ((e: DockerEvent | 'end' | Error) => void) | undefined;
  private time = 1_700_000_000_000_000_000n;

  async *events(options: EventStreamOptions): AsyncIterable<DockerEvent> {
    this.subscriptions.push(options.since ? { since: options.since } : {});
    options.onOpen?.();
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

  signalContainer(id: string, signal: string): Promise<void> {
    if (this.signalError) return Promise.reject(this.signalError);
    this.signals.push({ id, signal });
    return Promise.resolve();
  }
  exec(id: string, cmd: string[]): Promise<ExecResult> {
    this.execs.push({ id, cmd });
    return Promise.resolve(this.execResult);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A running container with the `color` label and one published port (n picks id, name and port). */
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
