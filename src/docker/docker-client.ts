/**
 * The one interface Switchyard uses to talk to the Docker Engine. The registrar follows events and
 * inspects containers; the sidecar proxy drivers exec the proxy's checker and signal its container.
 */

export interface PortBinding {
  /** The port inside the container. */
  containerPort: number;
  protocol: 'tcp' | 'udp';
  /** Published host port, when the port is published. */
  hostPort?: number;
  /** The host address it is published on ('0.0.0.0', '::', or a specific one). */
  hostIp?: string;
}

export interface ContainerNetwork {
  name: string;
  ipAddress: string;
  ipv6Address: string;
}

export type ContainerHealth = 'starting' | 'healthy' | 'unhealthy';

/** What the registrar needs from `docker inspect`, in our own terms. */
export interface ContainerInfo {
  id: string;
  /** Without the leading slash. */
  name: string;
  image: string;
  /** The image's ID (`sha256:…`, from inspect's `.Image`). */
  imageId?: string;
  hostname: string;
  labels: Record<string, string>;
  env: Record<string, string>;
  running: boolean;
  /** State.StartedAt (RFC 3339), when it has ever started. */
  startedAt?: string;
  /** Docker HEALTHCHECK status, when the image or run defines one. */
  health?: ContainerHealth;
  /** Every exposed port, with its host binding when published (one entry per binding). */
  ports: PortBinding[];
  networks: ContainerNetwork[];
  networkMode: string;
}

export interface ContainerSummary {
  id: string;
  name: string;
  labels: Record<string, string>;
  state: string;
}

/** One container event from GET /events, as we use it. */
export interface DockerEvent {
  action: string;
  id: string;
  /** Event time in nanoseconds since the epoch (Docker's timeNano), for `since` on replay. */
  timeNano: bigint;
  attributes: Record<string, string>;
}

export interface EventStreamOptions {
  /** Replay from this moment (seconds since the epoch, with a fraction). */
  since?: string;
  signal: AbortSignal;
  /** Called once dockerd has answered the subscription, before any event. */
  onOpen?: () => void;
}

export interface ExecResult {
  exitCode: number;
  output: string;
}

export interface DockerClient {
  /**
   * Container events, in order, until the stream ends (the iterator finishes) or fails (it throws).
   * Ending is normal (dockerd restarting); the caller reconnects and reconciles.
   */
  events(options: EventStreamOptions): AsyncIterable<DockerEvent>;
  /** Running containers. */
  listContainers(): Promise<ContainerSummary[]>;
  /** undefined when the container no longer exists. */
  inspectContainer(id: string): Promise<ContainerInfo | undefined>;
  /** Sends a signal to a container's main process (the sidecar reload). */
  signalContainer(id: string, signal: string): Promise<void>;
  /** Runs a command inside a running container and collects its output (the sidecar checker). */
  exec(id: string, cmd: string[]): Promise<ExecResult>;
  close(): Promise<void>;
}
