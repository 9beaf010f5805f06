import { EventEmitter } from 'node:events';
import https from 'node:https';
import Consul from 'consul';
import type { CheckOptions } from 'consul/lib/agent/check.js';
import { ClosedError, ConsulError } from '../errors.js';
import { http, type Agent } from '../node-http.js';
import { DEFAULT_CONSUL_WAIT_MS, MAX_CONSUL_WAIT_MS } from './blocking-query.js';
import type {
  AgentService,
  BlockingOptions,
  CheckStatus,
  ConsulClient,
  HealthCheckState,
  HealthInstance,
  Indexed,
  KvEntry,
  NodeCheck,
  ServiceRegistration,
  SessionOptions,
} from './consul-client.js';
import {
  loadConsulTls,
  parseConsulAddress,
  tokenSource,
  type ConsulConnectionSettings,
  type TokenSource,
} from './consul-connection.js';
import { classifyConsulFailure, type ConsulOperation } from './consul-failure.js';

export { parseConsulAddress } from './consul-connection.js';

export interface ConsulHttpClientOptions extends ConsulConnectionSettings {
  /** Per-request timeout for non-blocking calls, in milliseconds. */
  timeoutMs?: number;
}

type Json = Record<string, unknown>;

/** The ID prefix of the check Consul adds to a service in maintenance. */
const SERVICE_MAINTENANCE_CHECK = '_service_maintenance:';
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v ?? 0) || 0);
const strArray = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
const strRecord = (v: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object') for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
};
const asStatus = (v: unknown): CheckStatus => (v === 'passing' || v === 'warning' ? v : 'critical');
const objects = (v: unknown): Json[] =>
  Array.isArray(v) ? v.filter((x): x is Json => !!x && typeof x === 'object') : [];

/**
 * Options the `consul` package documents for every method ("Common Method Call Options" in its
 * README: `ctx` to cancel, `timeout`, `index` and `wait` for blocking queries, `token`) but leaves
 * out of its .d.ts. They reach the typed methods through an object spread, which TypeScript does not
 * check for extra properties, so no call needs a cast.
 */
interface CallOptions {
  token?: string;
  timeout?: number;
  index?: string;
  wait?: string;
  ctx: EventEmitter;
}

/**
 * The one seam where the package falls short. A blocking query needs X-Consul-Index, which only
 * reaches the caller when the request context has `includeResponse` set — the mechanism the
 * package's own `Watch` uses (lib/watch.js passes itself as `ctx` with `includeResponse = true`);
 * the method then resolves with `[response, body]` instead of the body its type declares.
 */
class ResponseContext extends EventEmitter {
  readonly includeResponse = true;
}
interface RawResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
}
function indexOf(res: RawResponse | undefined): number {
  const raw = res?.headers['x-consul-index'];
  const n = Number(Array.isArray(raw) ? raw[0] : raw);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/** The adapter: the npm `consul` client behind our ConsulClient interface, over HTTP or HTTPS. */
export class ConsulHttpClient implements ConsulClient {
  /** scheme://host:port, for messages. Never holds the token. */
  readonly address: string;
  private readonly consul: Consul;
  private readonly agent: Agent;
  private readonly timeoutMs: number;
  private readonly tokens: TokenSource;
  private readonly inflight = new Set<EventEmitter>();
  private closed = false;
  private requests = 0;
  private blockingNow = 0;

  /** Reads the TLS and token files; a bad address or unreadable file throws a ConfigError naming it. */
  constructor(options: ConsulHttpClientOptions) {
    const endpoint = parseConsulAddress(options.address, options.httpSsl);
    const tls = loadConsulTls(options, endpoint);
    this.tokens = tokenSource(options);
    this.address = endpoint.url;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    // The render role holds a few blocking queries and runs bounded fetches beside them; the cap only
    // guards against a runaway. Consul's per-client limit (limits.http_max_conns_per_client) is 200.
    this.agent = endpoint.secure
      ? new https.Agent({ keepAlive: true, maxSockets: 64, ...tls })
      : new http.Agent({ keepAlive: true, maxSockets: 64 });
    this.consul = new Consul({ host: endpoint.host, port: endpoint.port, secure: endpoint.secure, agent: this.agent });
  }

  async agentNodeName(): Promise<string> {
    const self = (await this.call(op('agent self', 'read', 'agent', ''), (o) => this.consul.agent.self(o))) as {
      Config?: Json;
    };
    const name = str(self?.Config?.NodeName);
    if (!name) throw new ConsulError('Consul agent/self has no Config.NodeName');
    return name;
  }

  async registerService(s: ServiceRegistration): Promise<void> {
    await this.call(op(`register service ${s.id}`, 'write', 'service', s.name), (o) =>
      this.consul.agent.service.register({
        id: s.id,
        name: s.name,
        tags: s.tags,
        address: s.address,
        port: s.port,
        meta: s.meta,
        checks: s.checks.map(checkOptions),
        ...o,
      }),
    );
  }

  async deregisterService(serviceId: string): Promise<void> {
    try {
      await this.call(op(`deregister service ${serviceId}`, 'write', 'service', serviceId), (o) =>
        this.consul.agent.service.deregister({ id: serviceId, ...o }),
      );
    } catch (err) {
      // Already gone is the state we wanted.
      if (err instanceof ConsulError && err.statusCode === 404) return;
      throw err;
    }
  }

  async agentServices(): Promise<AgentService[]> {
    const body = await this.call(op('list agent services', 'read', 'service', '*'), (o) =>
      this.consul.agent.service.list(o),
    );
    return Object.values(body ?? {})
      .filter((s): s is Json => !!s && typeof s === 'object')
      .map((s) => ({
        id: str(s.ID),
        name: str(s.Service),
        tags: strArray(s.Tags),
        address: str(s.Address),
        port: num(s.Port),
        meta: strRecord(s.Meta),
      }));
  }

  async updateTtlCheck(checkId: string, status: CheckStatus, output: string): Promise<void> {
    const check = this.consul.agent.check;
    const note = output.slice(0, 4096);
    await this.call(op(`update check ${checkId}`, 'write', 'service', checkId), (o) =>
      status === 'passing'
        ? check.pass({ id: checkId, note, ...o })
        : status === 'warning'
          ? check.warn({ id: checkId, note, ...o })
          : check.fail({ id: checkId, note, ...o }),
    );
  }

  async setServiceMaintenance(serviceId: string, enable: boolean, reason: string): Promise<void> {
    await this.call(op(`maintenance ${enable ? 'on' : 'off'} for ${serviceId}`, 'write', 'service', serviceId), (o) =>
      this.consul.agent.service.maintenance({ id: serviceId, enable, reason, ...o }),
    );
  }

  async deregisterCheck(checkId: string): Promise<void> {
    try {
      await this.call(op(`deregister check ${checkId}`, 'write', 'service', checkId), (o) =>
        this.consul.agent.check.deregister({ id: checkId, ...o }),
      );
    } catch (err) {
      if (err instanceof ConsulError && err.statusCode === 404) return;
      throw err;
    }
  }

  async agentMaintenance(): Promise<Map<string, string>> {
    const body = await this.call(op('list agent checks', 'read', 'service', '*'), (o) =>
      this.consul.agent.check.list(o),
    );
    const out = new Map<string, string>();
    // Consul keeps a service's maintenance as a check of its own, with the reason in its Notes.
    for (const c of Object.values(body ?? {}))
      if (str(c.CheckID).startsWith(SERVICE_MAINTENANCE_CHECK) && str(c.ServiceID))
        out.set(str(c.ServiceID), str(c.Notes));
    return out;
  }

  async catalogServices(options: BlockingOptions = {}): Promise<Indexed<Record<string, string[]>>> {
    const { index, body } = await this.blockingCall(op('catalog services', 'read', 'service', '*'), options, (o) =>
      this.consul.catalog.service.list(o),
    );
    const value: Record<string, string[]> = {};
    if (body && typeof body === 'object')
      for (const [name, tags] of Object.entries(body as Json)) value[name] = strArray(tags);
    return { index, value };
  }

  async healthService(name: string, options: BlockingOptions = {}): Promise<Indexed<HealthInstance[]>> {
    const { index, body } = await this.blockingCall(
      op(`health of service ${name}`, 'read', 'service', name),
      options,
      (o) => this.consul.health.service({ service: name, ...o }),
    );
    const value = objects(body).map((entry): HealthInstance => {
      const node = (entry.Node ?? {}) as Json;
      const svc = (entry.Service ?? {}) as Json;
      return {
        node: str(node.Node),
        nodeAddress: str(node.Address),
        serviceId: str(svc.ID),
        serviceName: str(svc.Service),
        address: str(svc.Address) || str(node.Address),
        port: num(svc.Port),
        tags: strArray(svc.Tags),
        meta: strRecord(svc.Meta),
        checks: objects(entry.Checks).map((c): HealthCheckState => ({
          checkId: str(c.CheckID),
          name: str(c.Name),
          status: asStatus(c.Status),
          output: str(c.Output),
          notes: str(c.Notes),
          serviceId: str(c.ServiceID),
        })),
      };
    });
    return { index, value };
  }

  async healthChecks(options: BlockingOptions = {}): Promise<Indexed<NodeCheck[]>> {
    const { index, body } = await this.blockingCall(op('health of every check', 'read', 'service', '*'), options, (o) =>
      this.consul.health.state({ state: 'any', ...o }),
    );
    const value = objects(body).map((c): NodeCheck => ({
      node: str(c.Node),
      checkId: str(c.CheckID),
      serviceId: str(c.ServiceID),
      serviceName: str(c.ServiceName),
      status: asStatus(c.Status),
      modifyIndex: num(c.ModifyIndex),
    }));
    return { index, value };
  }

  async kvList(prefix: string, options: BlockingOptions = {}): Promise<Indexed<KvEntry[]>> {
    const { index, body } = await this.blockingCall(op(`kv list ${prefix}`, 'read', 'key', prefix), options, (o) =>
      this.consul.kv.get({ key: prefix, recurse: true, ...o }),
    );
    return { index, value: objects(body).map(kvEntry) };
  }

  async kvGet(key: string): Promise<KvEntry | undefined> {
    const body = await this.call(op(`kv get ${key}`, 'read', 'key', key), (o) => this.consul.kv.get({ key, ...o }));
    return body ? kvEntry(body) : undefined;
  }

  async kvPut(key: string, value: string, options: { cas?: number } = {}): Promise<boolean> {
    const ok = await this.call(op(`kv put ${key}`, 'write', 'key', key), (o) =>
      this.consul.kv.set({ key, value, ...(options.cas !== undefined ? { cas: options.cas } : {}), ...o }),
    );
    return ok === true;
  }

  async kvDelete(key: string): Promise<void> {
    await this.call(op(`kv delete ${key}`, 'write', 'key', key), (o) => this.consul.kv.del({ key, ...o }));
  }

  /**
   * What this client holds open on Consul now, and how many requests it has sent: the figures that
   * meet Consul's per-client connection limit (limits.http_max_conns_per_client, 200 by default).
   */
  usage(): { requests: number; blockingQueries: number; connections: number } {
    const count = (m: NodeJS.ReadOnlyDict<unknown[]>) => Object.values(m).reduce((n, l) => n + (l?.length ?? 0), 0);
    return {
      requests: this.requests,
      blockingQueries: this.blockingNow,
      connections: count(this.agent.sockets) + count(this.agent.freeSockets),
    };
  }

  async sessionCreate(options: SessionOptions): Promise<string> {
    const body = (await this.call(op(`create session ${options.name}`, 'write', 'session', options.name), (o) =>
      this.consul.session.create({
        name: options.name,
        ttl: `${Math.max(10, Math.ceil(options.ttlMs / 1000))}s`,
        lockdelay: `${Math.max(0, Math.round(options.lockDelayMs / 1000))}s`,
        behavior: 'release',
        ...o,
      } as never),
    )) as { ID?: unknown } | undefined;
    const id = str(body?.ID);
    if (!id) throw new ConsulError(`Consul session create at ${this.address} answered no ID`);
    return id;
  }

  async sessionRenew(id: string): Promise<boolean> {
    try {
      const body = (await this.call(op(`renew session ${id}`, 'write', 'session', id), (o) =>
        this.consul.session.renew({ id, ...o } as never),
      )) as unknown;
      return Array.isArray(body) ? body.length > 0 : body !== undefined && body !== null;
    } catch (err) {
      // Consul answers 404 for a session it no longer has.
      if (err instanceof ConsulError && err.statusCode === 404) return false;
      throw err;
    }
  }

  async sessionDestroy(id: string): Promise<void> {
    await this.call(op(`destroy session ${id}`, 'write', 'session', id), (o) =>
      this.consul.session.destroy({ id, ...o } as never),
    );
  }

  async kvAcquire(key: string, value: string, session: string): Promise<boolean> {
    const ok = await this.call(op(`kv acquire ${key}`, 'write', 'key', key), (o) =>
      this.consul.kv.set({ key, value, acquire: session, ...o } as never),
    );
    return ok === true;
  }

  async kvRelease(key: string, value: string, session: string): Promise<boolean> {
    const ok = await this.call(op(`kv release ${key}`, 'write', 'key', key), (o) =>
      this.consul.kv.set({ key, value, release: session, ...o } as never),
    );
    return ok === true;
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      for (const ctx of this.inflight) ctx.emit('cancel');
      this.inflight.clear();
      this.consul.destroy();
      this.agent.destroy();
    }
    return Promise.resolve();
  }

  /** A read that may block: index and wait when an index was seen, the X-Consul-Index back. */
  private blockingCall(
    operation: ConsulOperation,
    options: BlockingOptions,
    fn: (o: CallOptions) => Promise<unknown>,
  ): Promise<{ index: number; body: unknown }> {
    const blocking: Partial<CallOptions> = {};
    // An index below 1 is never sent as "seen": Consul would answer at once, forever (a busy loop).
    if (options.index !== undefined && options.index >= 1) {
      const waitMs = Math.min(options.waitMs ?? DEFAULT_CONSUL_WAIT_MS, MAX_CONSUL_WAIT_MS);
      blocking.index = String(options.index);
      blocking.wait = `${Math.ceil(waitMs / 1000)}s`;
      // Consul adds up to wait/16 of jitter; leave room for it before our own timeout fires.
      blocking.timeout = waitMs + waitMs / 16 + 5_000;
    }
    return this.run(operation, new ResponseContext(), options.signal, async (ctx) => {
      if (blocking.index) this.blockingNow += 1;
      try {
        const out: unknown = await fn({ ...this.common(ctx), ...blocking });
        if (isErrorLike(out)) throw out;
        // With includeResponse the package answers [response, body], or [response] for a 404.
        const [res, body] = Array.isArray(out) ? (out as [RawResponse | undefined, unknown?]) : [undefined, out];
        return { index: indexOf(res), body };
      } finally {
        if (blocking.index) this.blockingNow -= 1;
      }
    });
  }

  /** A non-blocking call through the package's typed method. */
  private call<T>(operation: ConsulOperation, fn: (o: CallOptions) => Promise<T>): Promise<T> {
    return this.run(operation, new EventEmitter(), undefined, async (ctx) => {
      const out = await fn(this.common(ctx));
      // papi checks `instanceof Error`, which fails across realms (jest's VM sandbox), and then
      // resolves with the error instead of rejecting: treat any error-shaped value as a failure.
      if (isErrorLike(out)) throw out;
      return out;
    });
  }

  private common(ctx: EventEmitter): CallOptions {
    const token = this.tokens.token();
    return { ctx, timeout: this.timeoutMs, ...(token ? { token } : {}) };
  }

  private async run<T>(
    operation: ConsulOperation,
    ctx: EventEmitter,
    signal: AbortSignal | undefined,
    fn: (ctx: EventEmitter) => Promise<T>,
  ): Promise<T> {
    if (this.closed) throw new ClosedError(`Consul client is closed (${operation.what})`);
    this.requests += 1;
    const onAbort = () => ctx.emit('cancel');
    signal?.addEventListener('abort', onAbort, { once: true });
    this.inflight.add(ctx);
    try {
      if (signal?.aborted) throw new ConsulError(`${operation.what}: aborted`);
      return await fn(ctx);
    } catch (err) {
      if (err instanceof ConsulError) throw err;
      throw this.failure(operation, err);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.inflight.delete(ctx);
    }
  }

  /**
   * The facts of a failed request for classifyConsulFailure. The package's error carries the
   * response, whose request holds the X-Consul-Token header: it is not kept as `cause`, so nothing
   * that logs the error can reach the token.
   */
  private failure(operation: ConsulOperation, err: unknown): ConsulError {
    const e = (err ?? {}) as { message?: unknown; code?: unknown; response?: { statusCode?: unknown; body?: unknown } };
    const statusCode = typeof e.response?.statusCode === 'number' ? e.response.statusCode : undefined;
    const body = e.response?.body;
    return classifyConsulFailure({
      operation,
      address: this.address,
      ...(statusCode !== undefined ? { statusCode } : {}),
      ...(typeof body === 'string' ? { body } : Buffer.isBuffer(body) ? { body: body.toString('utf8') } : {}),
      ...(typeof e.code === 'string' ? { code: e.code } : {}),
      ...(typeof e.message === 'string' ? { message: e.message } : {}),
    });
  }
}

function op(what: string, access: ConsulOperation['access'], resource: ConsulOperation['resource'], name: string) {
  return { what, access, resource, name };
}

function kvEntry(e: { Key?: unknown; Value?: unknown; ModifyIndex?: unknown; Session?: unknown }): KvEntry {
  const session = str(e.Session);
  return {
    key: str(e.Key),
    value: typeof e.Value === 'string' ? e.Value : '',
    modifyIndex: num(e.ModifyIndex),
    ...(session ? { session } : {}),
  };
}

/** The package's CheckOptions declares `timeout` required, though Consul wants none on a TTL check. */
type CheckDefinition = Omit<CheckOptions, 'timeout'> & { timeout?: string };

function checkOptions(c: ServiceRegistration['checks'][number]): CheckOptions {
  const def: CheckDefinition = {
    checkid: c.checkId,
    name: c.name,
    ...(c.http ? { http: c.http } : {}),
    ...(c.tcp ? { tcp: c.tcp } : {}),
    ...(c.ttl ? { ttl: c.ttl } : {}),
    ...(c.interval ? { interval: c.interval } : {}),
    ...(c.timeout ? { timeout: c.timeout } : {}),
    ...(c.deregisterCriticalServiceAfter ? { deregistercriticalserviceafter: c.deregisterCriticalServiceAfter } : {}),
    ...(c.status ? { status: c.status } : {}),
    ...(c.notes ? { notes: c.notes } : {}),
  };
  return def as CheckOptions;
}

function isErrorLike(v: unknown): v is Error {
  return Object.prototype.toString.call(v) === '[object Error]';
}
