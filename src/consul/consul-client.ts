import type { CheckStatus } from '../domain/check-status.js';

/**
 * The one interface Switchyard uses to talk to Consul. The registrar uses the agent half, the
 * watcher and the switch commands use the catalog, health and KV half. A unit test fakes this
 * interface; integration tests run the real adapter against a real agent.
 */

/** Re-exported: the status type is part of this interface's contract (its home is domain/). */
export type { CheckStatus };

/** A check attached to a service registration. Exactly one of http, tcp or ttl is set. */
export interface ServiceCheck {
  checkId: string;
  name: string;
  http?: string;
  tcp?: string;
  ttl?: string;
  interval?: string;
  timeout?: string;
  deregisterCriticalServiceAfter?: string;
  /** Initial status; Consul starts checks as critical when unset. */
  status?: CheckStatus;
  notes?: string;
}

/** A service as the local agent reports it (GET /v1/agent/services). */
export interface AgentService {
  id: string;
  name: string;
  tags: string[];
  address: string;
  port: number;
  meta: Record<string, string>;
}

/** What the registrar registers: the service as the agent will report it, plus its checks. */
export interface ServiceRegistration extends AgentService {
  checks: ServiceCheck[];
}

export interface HealthCheckState {
  checkId: string;
  name: string;
  status: CheckStatus;
  output: string;
  /** Notes given at registration; a maintenance check's reason. */
  notes?: string;
  /** Empty for node-level checks (serfHealth, node maintenance). */
  serviceId: string;
}

/** One instance from GET /v1/health/service/:name, with its node's and its own checks. */
export interface HealthInstance {
  node: string;
  nodeAddress: string;
  serviceId: string;
  serviceName: string;
  /** The service address, or the node address when the service has none. */
  address: string;
  port: number;
  tags: string[];
  meta: Record<string, string>;
  checks: HealthCheckState[];
}

/** One check from GET /v1/health/state/any: enough to tell which services' health moved. */
export interface NodeCheck {
  node: string;
  checkId: string;
  /** Empty for node-level checks (serfHealth, node maintenance). */
  serviceId: string;
  serviceName: string;
  status: CheckStatus;
  /** Moves whenever Consul rewrites the check (status, output, definition). */
  modifyIndex: number;
}

export interface KvEntry {
  key: string;
  value: string;
  modifyIndex: number;
  /** The session holding the key's lock, when one does. */
  session?: string;
}

/** A Consul session for a lock (PUT /v1/session/create). */
export interface SessionOptions {
  name: string;
  /** Invalidated when not renewed within this (Consul: 10s to 24h). */
  ttlMs: number;
  /** After the session is invalidated, nobody may acquire its locks for this long (Consul: 0 to 60s). */
  lockDelayMs: number;
}

export interface BlockingOptions {
  /** The last X-Consul-Index seen; 0 or unset asks without blocking. */
  index?: number;
  /** How long Consul may hold the request, in milliseconds (Consul caps it at 10 minutes). */
  waitMs?: number;
  signal?: AbortSignal;
}

/** A blocking-query answer: the value and the X-Consul-Index that came with it. */
export interface Indexed<T> {
  index: number;
  value: T;
}

export interface ConsulClient {
  /** The local agent's node name (GET /v1/agent/self). */
  agentNodeName(): Promise<string>;
  registerService(service: ServiceRegistration): Promise<void>;
  /** Deregisters; a service that is already gone is not an error. */
  deregisterService(serviceId: string): Promise<void>;
  agentServices(): Promise<AgentService[]>;
  updateTtlCheck(checkId: string, status: CheckStatus, output: string): Promise<void>;
  setServiceMaintenance(serviceId: string, enable: boolean, reason: string): Promise<void>;
  /** Removes one check from the agent; a check that is already gone is not an error. */
  deregisterCheck(checkId: string): Promise<void>;
  /** Services of this agent in maintenance: service ID → the reason given (GET /v1/agent/checks). */
  agentMaintenance(): Promise<Map<string, string>>;

  /** GET /v1/catalog/services: service name → tags. */
  catalogServices(options?: BlockingOptions): Promise<Indexed<Record<string, string[]>>>;
  /** GET /v1/health/service/:name, every instance whatever its health. */
  healthService(name: string, options?: BlockingOptions): Promise<Indexed<HealthInstance[]>>;
  /** GET /v1/health/state/any: every check in the datacenter, node-level ones included. */
  healthChecks(options?: BlockingOptions): Promise<Indexed<NodeCheck[]>>;
  /** GET /v1/kv/:prefix?recurse; an absent prefix is an empty list. */
  kvList(prefix: string, options?: BlockingOptions): Promise<Indexed<KvEntry[]>>;
  kvGet(key: string): Promise<KvEntry | undefined>;
  /** PUT /v1/kv/:key; with `cas`, only when the key's ModifyIndex still equals it (0: only if absent). */
  kvPut(key: string, value: string, options?: { cas?: number }): Promise<boolean>;
  kvDelete(key: string): Promise<void>;

  /** Creates a session whose locks are released (not deleted) when it ends; returns its ID. */
  sessionCreate(options: SessionOptions): Promise<string>;
  /** Renews a TTL session; false when Consul no longer knows it (expired or destroyed). */
  sessionRenew(id: string): Promise<boolean>;
  sessionDestroy(id: string): Promise<void>;
  /** PUT /v1/kv/:key?acquire=: takes the key's lock for the session; false when another holds it or lock-delay runs. */
  kvAcquire(key: string, value: string, session: string): Promise<boolean>;
  /** PUT /v1/kv/:key?release=: gives the lock up (only the holder can). */
  kvRelease(key: string, value: string, session: string): Promise<boolean>;

  /** Ends in-flight requests and frees sockets. Idempotent. */
  close(): Promise<void>;
}
