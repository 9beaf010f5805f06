import { EventEmitter } from 'node:events';
import http from 'node:http';
import Consul from 'consul';
import { ClosedError, ConsulError } from '../errors.js';
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
  ServiceRegistration,
  SessionOptions,
} from './consul-client.js';

export interface ConsulHttpClientOptions {
  /** `host:port`, `http://host:port` or `https://host:port` (CONSUL_HTTP_ADDR's forms). */
  address: string;
  token?: string;
  /** Per-request timeout for non-blocking calls, in milliseconds. */
  timeoutMs?: number;
}

/** The part of a papi request context the `consul` package reads: it aborts on `cancel`. */
class RequestContext extends EventEmitter {
  readonly includeResponse = true;
}

interface RawResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
}

type Json = Record<string, unknown>;

export function parseConsulAddress(address: string): { host: string; port: number; secure: boolean } {
  const withScheme = /^[a-z]+:\/\//i.test(address) ? address : `http://${address}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch (err) {
    throw new ConsulError(`invalid Consul address "${address}": expected host:port or http(s)://host:port`, undefined, {
      cause: err,
    });
  }
  const secure = url.protocol === 'https:';
  const port = url.port ? Number(url.port) : secure ? 443 : 8500;
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port, secure };
}

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

/** The adapter: the npm `consul` client behind our ConsulClient interface. */
export class ConsulHttpClient implements ConsulClient {
  readonly address: string;
  private readonly consul: Consul;
  private readonly agent: http.Agent;
  private readonly timeoutMs: number;
  private readonly inflight = new Set<RequestContext>();
  private closed = false;

  constructor(options: ConsulHttpClientOptions) {
    const { host, port, secure } = parseConsulAddress(options.address);
    this.address = `${secure ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    // The render role holds one blocking query open per watched service; with a lower cap the
    // queries past it would wait for a socket until another query's wait (minutes) ends. Consul's
    // own default per-client limit (limits.http_max_conns_per_client) is 200.
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
    this.consul = new Consul({
      host,
      port,
      secure,
      ...(secure ? {} : { agent: this.agent }),
      defaults: options.token ? { token: options.token } : {},
    });
  }

  async agentNodeName(): Promise<string> {
    const self = (await this.call('agent self', (ctx) => this.consul.agent.self({ ctx } as never))) as [unknown, Json];
    const config = (self[1]?.Config ?? {}) as Json;
    const name = str(config.NodeName);
    if (!name) throw new ConsulError('Consul agent/self has no Config.NodeName');
    return name;
  }

  async registerService(s: ServiceRegistration): Promise<void> {
    const checks = s.checks.map((c) => ({
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
    }));
    await this.call(`register service ${s.id}`, (ctx) =>
      this.consul.agent.service.register({
        id: s.id,
        name: s.name,
        tags: s.tags,
        address: s.address,
        port: s.port,
        meta: s.meta,
        checks,
        ctx,
      } as never),
    );
  }

  async deregisterService(serviceId: string): Promise<void> {
    try {
      await this.call(`deregister service ${serviceId}`, (ctx) =>
        this.consul.agent.service.deregister({ id: serviceId, ctx } as never),
      );
    } catch (err) {
      // Already gone is the state we wanted.
      if (err instanceof ConsulError && err.statusCode === 404) return;
      throw err;
    }
  }

  async agentServices(): Promise<AgentService[]> {
    const [, body] = (await this.call('list agent services', (ctx) =>
      this.consul.agent.service.list({ ctx } as never),
    )) as [unknown, Record<string, Json> | undefined];
    return Object.values(body ?? {}).map((s) => ({
      id: str(s.ID),
      name: str(s.Service),
      tags: strArray(s.Tags),
      address: str(s.Address),
      port: num(s.Port),
      meta: strRecord(s.Meta),
    }));
  }

  async updateTtlCheck(checkId: string, status: CheckStatus, output: string): Promise<void> {
    const method = status === 'passing' ? 'pass' : status === 'warning' ? 'warn' : 'fail';
    await this.call(`update check ${checkId}`, (ctx) =>
      this.consul.agent.check[method]({ id: checkId, note: output.slice(0, 4096), ctx } as never),
    );
  }

  async setServiceMaintenance(serviceId: string, enable: boolean, reason: string): Promise<void> {
    await this.call(`maintenance ${enable ? 'on' : 'off'} for ${serviceId}`, (ctx) =>
      this.consul.agent.service.maintenance({ id: serviceId, enable, reason, ctx } as never),
    );
  }

  async agentMaintenance(): Promise<Map<string, string>> {
    const [, body] = (await this.call('list agent checks', (ctx) =>
      this.consul.agent.check.list({ ctx } as never),
    )) as [unknown, Record<string, Json> | undefined];
    const out = new Map<string, string>();
    // Consul keeps a service's maintenance as a check of its own, with the reason in its Notes.
    for (const c of Object.values(body ?? {}))
      if (str(c.CheckID).startsWith(SERVICE_MAINTENANCE_CHECK) && str(c.ServiceID))
        out.set(str(c.ServiceID), str(c.Notes));
    return out;
  }

  async catalogServices(options: BlockingOptions = {}): Promise<Indexed<Record<string, string[]>>> {
    const [res, body] = (await this.call(
      'catalog services',
      (ctx) => this.consul.catalog.service.list({ ...this.blocking(options), ctx } as never),
      options,
    )) as [RawResponse, Record<string, unknown> | undefined];
    const value: Record<string, string[]> = {};
    for (const [name, tags] of Object.entries(body ?? {})) value[name] = strArray(tags);
    return { index: indexOf(res), value };
  }

  async healthService(name: string, options: BlockingOptions = {}): Promise<Indexed<HealthInstance[]>> {
    const [res, body] = (await this.call(
      `health of service ${name}`,
      (ctx) => this.consul.health.service({ service: name, ...this.blocking(options), ctx } as never),
      options,
    )) as [RawResponse, Json[] | undefined];
    const value = (body ?? []).map((entry): HealthInstance => {
      const node = (entry.Node ?? {}) as Json;
      const svc = (entry.Service ?? {}) as Json;
      const checks = Array.isArray(entry.Checks) ? (entry.Checks as Json[]) : [];
      return {
        node: str(node.Node),
        nodeAddress: str(node.Address),
        serviceId: str(svc.ID),
        serviceName: str(svc.Service),
        address: str(svc.Address) || str(node.Address),
        port: num(svc.Port),
        tags: strArray(svc.Tags),
        meta: strRecord(svc.Meta),
        checks: checks.map((c): HealthCheckState => ({
          checkId: str(c.CheckID),
          name: str(c.Name),
          status: asStatus(c.Status),
          // A maintenance check keeps its reason in Notes and has no output: show the reason.
          output: str(c.Output) || str(c.Notes),
          serviceId: str(c.ServiceID),
        })),
      };
    });
    return { index: indexOf(res), value };
  }

  async kvList(prefix: string, options: BlockingOptions = {}): Promise<Indexed<KvEntry[]>> {
    const [res, body] = (await this.call(
      `kv list ${prefix}`,
      (ctx) => this.consul.kv.get({ key: prefix, recurse: true, ...this.blocking(options), ctx } as never),
      options,
    )) as [RawResponse, Json[] | undefined];
    const value = (body ?? []).map(kvEntry);
    return { index: indexOf(res), value };
  }

  async kvGet(key: string): Promise<KvEntry | undefined> {
    const [, body] = (await this.call(`kv get ${key}`, (ctx) => this.consul.kv.get({ key, ctx } as never))) as [
      unknown,
      Json | undefined,
    ];
    if (!body) return undefined;
    return kvEntry(body);
  }

  async kvPut(key: string, value: string, options: { cas?: number } = {}): Promise<boolean> {
    const [, ok] = (await this.call(`kv put ${key}`, (ctx) =>
      this.consul.kv.set({ key, value, ...(options.cas !== undefined ? { cas: options.cas } : {}), ctx } as never),
    )) as [unknown, unknown];
    return ok === true;
  }

  async kvDelete(key: string): Promise<void> {
    await this.call(`kv delete ${key}`, (ctx) => this.consul.kv.del({ key, ctx } as never));
  }

  async sessionCreate(options: SessionOptions): Promise<string> {
    const [, body] = (await this.call(`create session ${options.name}`, (ctx) =>
      this.consul.session.create({
        name: options.name,
        ttl: `${Math.max(10, Math.ceil(options.ttlMs / 1000))}s`,
        lockdelay: `${Math.max(0, Math.round(options.lockDelayMs / 1000))}s`,
        behavior: 'release',
        ctx,
      } as never),
    )) as [unknown, Json | undefined];
    const id = str(body?.ID);
    if (!id) throw new ConsulError(`Consul session create at ${this.address} answered no ID`);
    return id;
  }

  async sessionRenew(id: string): Promise<boolean> {
    try {
      const [, body] = (await this.call(`renew session ${id}`, (ctx) =>
        this.consul.session.renew({ id, ctx } as never),
      )) as [unknown, unknown];
      return Array.isArray(body) ? body.length > 0 : body !== undefined && body !== null;
    } catch (err) {
      // Consul answers 404 for a session it no longer has.
      if (err instanceof ConsulError && err.statusCode === 404) return false;
      throw err;
    }
  }

  async sessionDestroy(id: string): Promise<void> {
    await this.call(`destroy session ${id}`, (ctx) => this.consul.session.destroy({ id, ctx } as never));
  }

  async kvAcquire(key: string, value: string, session: string): Promise<boolean> {
    const [, ok] = (await this.call(`kv acquire ${key}`, (ctx) =>
      this.consul.kv.set({ key, value, acquire: session, ctx } as never),
    )) as [unknown, unknown];
    return ok === true;
  }

  async kvRelease(key: string, value: string, session: string): Promise<boolean> {
    const [, ok] = (await this.call(`kv release ${key}`, (ctx) =>
      this.consul.kv.set({ key, value, release: session, ctx } as never),
    )) as [unknown, unknown];
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

  private blocking(options: BlockingOptions): Record<string, unknown> {
    // An index below 1 is never sent as "seen": Consul would answer at once, forever (a busy loop).
    if (options.index !== undefined && options.index >= 1) {
      const waitMs = Math.min(options.waitMs ?? DEFAULT_CONSUL_WAIT_MS, MAX_CONSUL_WAIT_MS);
      // Consul adds up to wait/16 of jitter; leave room for it before our own timeout fires.
      return {
        index: String(options.index),
        wait: `${Math.ceil(waitMs / 1000)}s`,
        timeout: waitMs + waitMs / 16 + 5_000,
      };
    }
    return { timeout: this.timeoutMs };
  }

  private async call(what: string, fn: (ctx: RequestContext) => Promise<unknown>, options: BlockingOptions = {}) {
    if (this.closed) throw new ClosedError(`Consul client is closed (${what})`);
    const ctx = new RequestContext();
    const onAbort = () => ctx.emit('cancel');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    this.inflight.add(ctx);
    try {
      if (options.signal?.aborted) throw new ConsulError(`${what}: aborted`);
      const out = await fn(ctx);
      // papi checks `instanceof Error`, which fails across realms (jest's VM sandbox), and then
      // resolves with the error instead of rejecting: treat any error-shaped value as a failure.
      if (isErrorLike(out)) throw out;
      // With includeResponse the package answers [response, body], or [response] for a 404.
      if (Array.isArray(out) && isResponse(out[0])) return [out[0], out[1]] as [RawResponse, unknown];
      return [undefined, out] as [undefined, unknown];
    } catch (err) {
      if (err instanceof ConsulError) throw err;
      const e = err as { statusCode?: number; message?: string; response?: RawResponse };
      const status = e.response?.statusCode ?? e.statusCode;
      const body = (e.response as { body?: unknown } | undefined)?.body;
      const detail = typeof body === 'string' && body ? `: ${body.trim().slice(0, 300)}` : '';
      throw new ConsulError(
        `Consul ${what} at ${this.address} failed${status ? ` (HTTP ${status})` : ''}: ${e.message ?? String(err)}${detail}`,
        status,
        { cause: err },
      );
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      this.inflight.delete(ctx);
    }
  }
}

function kvEntry(e: Json): KvEntry {
  const session = str(e.Session);
  return {
    key: str(e.Key),
    value: typeof e.Value === 'string' ? e.Value : '',
    modifyIndex: num(e.ModifyIndex),
    ...(session ? { session } : {}),
  };
}

function isErrorLike(v: unknown): v is Error {
  return Object.prototype.toString.call(v) === '[object Error]';
}

function isResponse(v: unknown): v is RawResponse {
  return typeof v === 'object' && v !== null && 'statusCode' in v && 'headers' in v;
}

function indexOf(res: RawResponse | undefined): number {
  const raw = res?.headers['x-consul-index'];
  const n = Number(Array.isArray(raw) ? raw[0] : raw);
  return Number.isFinite(n) && n > 0 ? n : 0;
}
