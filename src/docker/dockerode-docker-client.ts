import type { IncomingMessage } from 'node:http';
import type Docker from 'dockerode';
import { ClosedError, DockerError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type {
  ContainerHealth,
  ContainerInfo,
  ContainerNetwork,
  ContainerSummary,
  DockerClient,
  DockerEvent,
  EventStreamOptions,
  ExecResult,
  PortBinding,
} from './docker-client.js';
import { Dockerode } from './dockerode-module.js';
import { LineSplitter, parseEventLine } from './event-lines.js';

export interface DockerodeClientOptions {
  /** unix:///path/to/docker.sock or tcp://host:port (DOCKER_HOST's forms); default the local socket. */
  host?: string;
  /** Per-request timeout for everything except the event stream, in milliseconds. */
  timeoutMs?: number;
  /** Where undecodable event lines are reported (they are skipped, never fatal). */
  logger?: Logger;
}

/** A single event line longer than this is not an event: drop it rather than buffer without bound. */
const MAX_LINE = 1 << 20;

export function dockerConnection(host: string | undefined): Docker.DockerOptions {
  if (!host) return { socketPath: '/var/run/docker.sock' };
  let url: URL;
  try {
    url = new URL(host);
  } catch (err) {
    throw new DockerError(`invalid Docker host "${host}": expected unix:///path or tcp://host:port`, undefined, {
      cause: err,
    });
  }
  if (url.protocol === 'unix:') {
    if (!url.pathname) throw new DockerError(`invalid Docker host "${host}": no socket path`);
    return { socketPath: url.pathname };
  }
  if (url.protocol === 'tcp:' || url.protocol === 'http:' || url.protocol === 'https:') {
    if (!url.hostname) throw new DockerError(`invalid Docker host "${host}": no host name`);
    const secure = url.protocol === 'https:';
    return {
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port ? Number(url.port) : secure ? 2376 : 2375,
      protocol: secure ? 'https' : 'http',
    };
  }
  throw new DockerError(`unsupported Docker host "${host}": expected unix:///path or tcp://host:port`);
}

type Json = Record<string, unknown>;
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** The adapter: dockerode (for requests) behind our DockerClient; the event stream is read raw. */
export class DockerodeDockerClient implements DockerClient {
  readonly address: string;
  private readonly docker: Docker;
  private readonly timeoutMs: number;
  private readonly logger?: Logger;
  private readonly closing = new AbortController();

  constructor(options: DockerodeClientOptions = {}) {
    this.docker = new Dockerode(dockerConnection(options.host));
    this.address = options.host ?? 'unix:///var/run/docker.sock';
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.logger = options.logger?.child({ component: 'docker' });
  }

  async *events(options: EventStreamOptions): AsyncIterable<DockerEvent> {
    const signal = AbortSignal.any([options.signal, this.closing.signal]);
    const query: Record<string, unknown> = {
      filters: { type: ['container'] },
      abortSignal: signal,
      ...(options.since ? { since: options.since } : {}),
    };
    let stream: IncomingMessage;
    try {
      stream = (await this.docker.getEvents(query as Docker.GetEventsOptions)) as unknown as IncomingMessage;
    } catch (err) {
      if (signal.aborted) return;
      throw this.wrap('open the event stream', err);
    }
    options.onOpen?.();
    const splitter = new LineSplitter();
    const onAbort = () => stream.destroy();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        for (const line of splitter.push(chunk)) {
          const parsed = parseEventLine(line);
          if (parsed.ok) yield parsed.event;
          else this.logger?.warn(`skipped an unreadable Docker event: ${parsed.error}`, { line: parsed.line });
        }
        if (splitter.pendingLength > MAX_LINE) {
          this.logger?.warn(`dropped a Docker event line longer than ${MAX_LINE} bytes`);
          splitter.end();
        }
      }
      for (const line of splitter.end()) {
        const parsed = parseEventLine(line);
        if (parsed.ok) yield parsed.event;
      }
    } catch (err) {
      if (signal.aborted) return;
      throw this.wrap('read the event stream', err);
    } finally {
      signal.removeEventListener('abort', onAbort);
      stream.destroy();
    }
  }

  async listContainers(): Promise<ContainerSummary[]> {
    const list = await this.call('list containers', (abortSignal) =>
      this.docker.listContainers({ all: false, abortSignal } as Docker.ContainerListOptions),
    );
    return (list as unknown as Json[]).map((c) => ({
      id: str(c.Id),
      name: (Array.isArray(c.Names) ? str(c.Names[0]) : '').replace(/^\//, ''),
      labels: stringRecord(c.Labels),
      state: str(c.State),
    }));
  }

  async inspectContainer(id: string): Promise<ContainerInfo | undefined> {
    let raw: Json;
    try {
      raw = (await this.call(`inspect container ${id.slice(0, 12)}`, (abortSignal) =>
        this.docker.getContainer(id).inspect({ abortSignal } as Docker.ContainerInspectOptions),
      )) as unknown as Json;
    } catch (err) {
      if (err instanceof DockerError && err.statusCode === 404) return undefined;
      throw err;
    }
    return toContainerInfo(raw);
  }

  async signalContainer(id: string, signal: string): Promise<void> {
    await this.call(`signal ${signal} to container ${id.slice(0, 12)}`, (abortSignal) =>
      this.docker.getContainer(id).kill({ signal, abortSignal } as object),
    );
  }

  async exec(id: string, cmd: string[]): Promise<ExecResult> {
    const container = this.docker.getContainer(id);
    const what = `exec ${cmd[0] ?? ''} in container ${id.slice(0, 12)}`;
    return this.call(what, async (abortSignal) => {
      const exec = await container.exec({
        Cmd: cmd,
        AttachStdout: true,
        AttachStderr: true,
        abortSignal,
      } as Docker.ExecCreateOptions);
      const stream = await exec.start({ hijack: true, stdin: false, abortSignal } as Docker.ExecStartOptions);
      const chunks: Buffer[] = [];
      const collect = {
        write: (b: Buffer) => {
          chunks.push(Buffer.from(b));
          return true;
        },
      };
      this.docker.modem.demuxStream(stream, collect as never, collect as never);
      await new Promise<void>((resolve, reject) => {
        stream.on('end', resolve);
        stream.on('close', resolve);
        stream.on('error', reject);
      });
      const info = (await exec.inspect({ abortSignal } as object)) as unknown as Json;
      return {
        exitCode: typeof info.ExitCode === 'number' ? info.ExitCode : -1,
        output: Buffer.concat(chunks).toString(),
      };
    });
  }

  close(): Promise<void> {
    this.closing.abort();
    return Promise.resolve();
  }

  private async call<T>(what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.closing.signal.aborted) throw new ClosedError(`Docker client is closed (${what})`);
    // A timer cleared when the call ends, not AbortSignal.timeout(): that one fires after every
    // call, long done or not, and its abort (a DOMException and an event to every signal and
    // listener built on it) cost more CPU than many a call itself.
    const controller = new AbortController();
    const closing = this.closing.signal;
    const onClose = () => controller.abort(closing.reason);
    closing.addEventListener('abort', onClose, { once: true });
    const timer = setTimeout(
      () => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
      this.timeoutMs,
    );
    try {
      return await fn(controller.signal);
    } catch (err) {
      throw this.wrap(what, err);
    } finally {
      clearTimeout(timer);
      closing.removeEventListener('abort', onClose);
    }
  }

  private wrap(what: string, err: unknown): DockerError {
    if (err instanceof DockerError) return err;
    const e = err as { statusCode?: number; message?: string; json?: { message?: string } };
    const detail = e.json?.message ?? e.message ?? String(err);
    return new DockerError(
      `Docker ${what} at ${this.address} failed${e.statusCode ? ` (HTTP ${e.statusCode})` : ''}: ${detail}`,
      e.statusCode,
      { cause: err },
    );
  }
}

function stringRecord(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object') for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

/** `docker inspect` JSON → our ContainerInfo. Exported for unit tests with recorded answers. */
export function toContainerInfo(raw: Json): ContainerInfo {
  const config = (raw.Config ?? {}) as Json;
  const state = (raw.State ?? {}) as Json;
  const hostConfig = (raw.HostConfig ?? {}) as Json;
  const net = (raw.NetworkSettings ?? {}) as Json;

  const env: Record<string, string> = {};
  for (const kv of Array.isArray(config.Env) ? config.Env : []) {
    if (typeof kv !== 'string') continue;
    const eq = kv.indexOf('=');
    if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }

  const ports: PortBinding[] = [];
  const seen = new Set<string>();
  const parseKey = (key: string): { containerPort: number; protocol: 'tcp' | 'udp' } | undefined => {
    const m = /^(\d+)\/(tcp|udp|sctp)$/.exec(key);
    if (!m || m[2] === 'sctp') return undefined;
    return { containerPort: Number(m[1]), protocol: m[2] as 'tcp' | 'udp' };
  };
  const published = (net.Ports ?? {}) as Record<string, unknown>;
  for (const [key, bindings] of Object.entries(published)) {
    const p = parseKey(key);
    if (!p) continue;
    seen.add(key);
    if (Array.isArray(bindings) && bindings.length > 0) {
      for (const b of bindings as Json[]) {
        const hostPort = Number(b.HostPort);
        ports.push({
          ...p,
          ...(Number.isInteger(hostPort) && hostPort > 0 ? { hostPort } : {}),
          ...(typeof b.HostIp === 'string' ? { hostIp: b.HostIp } : {}),
        });
      }
    } else ports.push(p);
  }
  for (const key of Object.keys((config.ExposedPorts ?? {}) as Json)) {
    const p = parseKey(key);
    if (p && !seen.has(key)) ports.push(p);
  }

  const networks: ContainerNetwork[] = Object.entries((net.Networks ?? {}) as Record<string, Json>).map(
    ([name, n]) => ({ name, ipAddress: str(n.IPAddress), ipv6Address: str(n.GlobalIPv6Address) }),
  );

  const healthRaw = str((state.Health as Json | undefined)?.Status);
  // Docker reports a never-started container's StartedAt as the zero time.
  const startedAt = str(state.StartedAt);
  const started = startedAt && !startedAt.startsWith('0001-') ? startedAt : '';
  const health: ContainerHealth | undefined =
    healthRaw === 'healthy' || healthRaw === 'unhealthy' || healthRaw === 'starting' ? healthRaw : undefined;

  return {
    id: str(raw.Id),
    name: str(raw.Name).replace(/^\//, ''),
    image: str(config.Image) || str(raw.Image),
    ...(str(raw.Image).startsWith('sha256:') ? { imageId: str(raw.Image) } : {}),
    hostname: str(config.Hostname),
    labels: stringRecord(config.Labels),
    env,
    running: state.Running === true && state.Paused !== true && state.Restarting !== true,
    ...(started ? { startedAt: started } : {}),
    ...(health ? { health } : {}),
    ports,
    networks,
    networkMode: str(hostConfig.NetworkMode),
  };
}
