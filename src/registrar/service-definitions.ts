import type { CheckStatus, ServiceCheck, ServiceRegistration } from '../consul/consul-client.js';
import type { ContainerHealth, ContainerInfo, PortBinding } from '../docker/docker-client.js';
import { LabelError } from '../errors.js';
import { COLOR_PATTERN } from '../domain/color.js';
import { splitList } from '../domain/list.js';
import { escaped } from '../log/text.js';
import {
  DOCKER_HEALTH_CHECK_SUFFIX,
  META_COLOR,
  META_CONTAINER_ID,
  META_CONTAINER_NAME,
  META_IMAGE,
  META_IMAGE_ID,
  META_OWNER,
  RESERVED_META_KEYS,
} from './meta-keys.js';

/**
 * Container labels and env → Consul service registrations, with Registrator's semantics (see
 * docs/registering.md). Pure: everything it needs is in the ContainerInfo and the options.
 */

/**
 * Which containers are registered:
 * - labelled (default): containers with the color label, or with SERVICE_NAME / SERVICE_<port>_NAME;
 * - explicit: only ports that have SERVICE_NAME or SERVICE_<port>_NAME (Registrator's -explicit);
 * - published: every container with a published port (Registrator's default).
 */
export type Selection = 'labelled' | 'explicit' | 'published';
export const SELECTIONS: readonly Selection[] = ['labelled', 'explicit', 'published'];

export interface DefinitionOptions {
  /** This Switchyard's node id: the first part of every service ID, and Meta switchyard_owner. */
  owner: string;
  /** Label key holding the color (default `color`). */
  colorLabel: string;
  selection: Selection;
  /** Tags added to every service (--tags). */
  extraTags: readonly string[];
  /** Register exposed ports at the container's own IP instead of published host ports. */
  internal: boolean;
  /** With internal: the network whose IP is used; default the container's first network. */
  network?: string;
  /** Advertised address for published ports (--ip). */
  advertiseIp?: string;
  /** TTL of the Docker-health check; it is refreshed well within this. */
  healthTtl: string;
}

export type Definitions =
  { selected: true; services: ServiceRegistration[]; notes: string[] } | { selected: false; reason: string };

// Consul DNS-safe service names (a DNS label), which also keeps them safe as proxy identifiers.
const SERVICE_NAME = /^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;
// IDs travel in URL paths (/v1/agent/service/deregister/:id) and in proxy configs.
const SERVICE_ID = /^[a-zA-Z0-9_.:@-]{1,200}$/;
const META_KEY = /^[a-zA-Z0-9_-]{1,128}$/;
const CONTROL = /\p{Cc}/u;
const TAG = /^[^\s\p{Cc}"'`\\{};]{1,255}$/u;

/** Tags end up in proxy configs and templates: no spaces, quotes, braces or control characters. */
export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}
const GO_DURATION = /^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/;
const HTTP_PATH = /^\/[^\s\p{Cc}]{0,1023}$/u;
const MAX_META = 64;
const MAX_META_VALUE = 512;
const MAX_LABEL_VALUE = 4096;

/** A container's SERVICE_* metadata: keys lower-cased without the prefix, labels over env. */
export interface Metadata {
  values: Map<string, string>;
  /** Where each key came from, for error messages (e.g. `label SERVICE_80_NAME`). */
  sources: Map<string, string>;
}

export function collectMetadata(info: Pick<ContainerInfo, 'labels' | 'env'>): Metadata {
  const values = new Map<string, string>();
  const sources = new Map<string, string>();
  const add = (from: 'env' | 'label', k: string, v: string) => {
    if (!k.startsWith('SERVICE_') || k.length === 'SERVICE_'.length) return;
    const key = k.slice('SERVICE_'.length).toLowerCase();
    values.set(key, v);
    // Label keys may hold anything, newlines included: the name goes into one-line errors.
    sources.set(key, `${from} ${escaped(k)}`);
  };
  for (const [k, v] of Object.entries(info.env)) add('env', k, v);
  // Labels are applied last so they win, as in Registrator.
  for (const [k, v] of Object.entries(info.labels)) add('label', k, v);
  return { values, sources };
}

interface PortCandidate {
  containerPort: number;
  protocol: 'tcp' | 'udp';
  hostPort?: number;
  hostIp?: string;
}

function isUnspecified(ip: string | undefined): boolean {
  return !ip || ip === '0.0.0.0' || ip === '::' || ip === '[::]';
}

/** One candidate per container port + protocol; Docker lists a binding per host address (0.0.0.0 and ::). */
function portCandidates(ports: readonly PortBinding[], published: boolean): PortCandidate[] {
  const byKey = new Map<string, PortCandidate>();
  for (const p of ports) {
    if (published && p.hostPort === undefined) continue;
    const key = `${p.containerPort}/${p.protocol}`;
    const prev = byKey.get(key);
    // Prefer a specific host address, then IPv4, so the advertised address is the most useful one.
    const better =
      !prev ||
      (isUnspecified(prev.hostIp) && !isUnspecified(p.hostIp)) ||
      (prev.hostIp?.includes(':') === true && p.hostIp?.includes(':') === false);
    if (better) byKey.set(key, { ...p });
  }
  return [...byKey.values()].sort((a, b) => a.containerPort - b.containerPort || a.protocol.localeCompare(b.protocol));
}

/** Registrator's default name: the image's base name without tag or digest. */
export function imageBaseName(image: string): string {
  const noDigest = image.split('@')[0] ?? image;
  const base = noDigest.slice(noDigest.lastIndexOf('/') + 1);
  return base.split(':')[0] ?? base;
}

/** Image names may hold `_` and `.`; a derived (not user-given) name is made DNS-safe instead of refused. */
function dnsSafe(name: string): string {
  return name
    .replace(/[^a-zA-Z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
}

const OFF = new Set(['', 'false', '0', 'no', 'off']);

/** A Docker HEALTHCHECK status as the Consul check status it becomes ('starting' keeps it out of rotation). */
export function healthStatus(h: ContainerHealth): CheckStatus {
  return h === 'healthy' ? 'passing' : 'critical';
}

export function healthNotes(h: ContainerHealth): string {
  return h === 'healthy'
    ? 'Docker HEALTHCHECK: healthy'
    : h === 'unhealthy'
      ? 'Docker HEALTHCHECK: unhealthy'
      : 'Docker HEALTHCHECK: starting (kept out of rotation until healthy)';
}

export function dockerHealthCheckId(serviceId: string): string {
  return `${serviceId}${DOCKER_HEALTH_CHECK_SUFFIX}`;
}

export function dockerHealthCheck(serviceId: string, health: ContainerHealth, ttl: string): ServiceCheck {
  return {
    checkId: dockerHealthCheckId(serviceId),
    name: 'Docker HEALTHCHECK',
    ttl,
    status: healthStatus(health),
    notes: healthNotes(health),
  };
}

export function hasExplicitName(md: Metadata): boolean {
  for (const k of md.values.keys()) if (k === 'name' || /^\d+_name$/.test(k)) return true;
  return false;
}

/**
 * The registrations a running container should have. Throws LabelError (naming the label) when a
 * value cannot be carried safely; the caller skips the container.
 */
export function serviceDefinitions(info: ContainerInfo, opts: DefinitionOptions): Definitions {
  const md = collectMetadata(info);
  const colorValue = info.labels[opts.colorLabel];
  const explicitName = hasExplicitName(md);

  if (opts.selection === 'labelled' && colorValue === undefined && !explicitName)
    return { selected: false, reason: `no "${opts.colorLabel}" label and no SERVICE_NAME` };
  if (opts.selection === 'explicit' && !explicitName)
    return { selected: false, reason: 'no SERVICE_NAME (--explicit)' };

  const label = (key: string): string => md.sources.get(key) ?? `SERVICE_${key.toUpperCase()}`;
  for (const [key, value] of md.values) {
    if (value.length > MAX_LABEL_VALUE)
      throw new LabelError(label(key), `${label(key)} is longer than ${MAX_LABEL_VALUE} characters`);
    if (CONTROL.test(value)) throw new LabelError(label(key), `${label(key)} contains control characters`);
    const portKey = /^(\d+)_(.*)$/.exec(key);
    if (/^\d/.test(key)) {
      const port = portKey ? Number(portKey[1]) : NaN;
      if (!portKey || !portKey[2] || !(port >= 1 && port <= 65535))
        throw new LabelError(label(key), `${label(key)}: expected SERVICE_<port>_<KEY> with a port from 1 to 65535`);
    }
  }
  if (md.values.has('ignore') && !OFF.has(md.values.get('ignore')!.toLowerCase()))
    return { selected: false, reason: `${label('ignore')} is set` };

  let color: string | undefined;
  if (colorValue !== undefined) {
    if (!COLOR_PATTERN.test(colorValue))
      throw new LabelError(
        `label ${opts.colorLabel}`,
        `label ${opts.colorLabel}="${escaped(colorValue)}" is not a valid color (1-32 of a-z, 0-9, _ and -, starting with a letter or digit)`,
      );
    color = colorValue;
  }

  const hostNetwork = info.networkMode === 'host';
  // Host-network containers publish nothing: their exposed ports are the host's ports.
  const usePublished = !opts.internal && !hostNetwork;
  const candidates = portCandidates(info.ports, usePublished);
  if (candidates.length === 0)
    return {
      selected: true,
      services: [],
      notes: [
        opts.internal
          ? 'it exposes no port, so there is nothing to register'
          : 'it publishes no port, so there is nothing to register (publish one with -p, or run with --internal)',
      ],
    };

  const group = candidates.length > 1;
  const network = opts.internal ? pickNetwork(info, opts.network) : undefined;
  if (opts.internal && !hostNetwork && !network)
    throw new LabelError(
      'network',
      opts.network
        ? `the container is not attached to network "${opts.network}" (--network)`
        : 'the container has no network with an IP address (--internal)',
    );

  const services: ServiceRegistration[] = [];
  const notes: string[] = [];
  const seenIds = new Set<string>();
  for (const port of candidates) {
    const { values: meta, fromPort } = portMetadata(md, port.containerPort);
    const src = (key: string): string => (fromPort.has(key) ? label(`${port.containerPort}_${key}`) : label(key));

    const ignore = meta.get('ignore');
    if (ignore !== undefined && !OFF.has(ignore.toLowerCase())) continue;

    let name = meta.get('name');
    if (name === undefined || name === '') {
      if (opts.selection === 'explicit') continue;
      const derived = dnsSafe(imageBaseName(info.image));
      if (!derived)
        throw new LabelError(
          'image',
          `cannot derive a service name from image "${escaped(info.image)}"; set SERVICE_NAME`,
        );
      name = derived;
    } else if (!SERVICE_NAME.test(name)) {
      throw new LabelError(
        src('name'),
        `${src('name')}="${escaped(name)}" is not a valid service name (letters, digits and -, at most 63, not starting or ending with -)`,
      );
    }
    if (group && !fromPort.has('name')) {
      name = `${name}-${port.containerPort}`;
      if (name.length > 63)
        throw new LabelError(src('name'), `${src('name')} is too long once -${port.containerPort} is added`);
    }

    const udp = port.protocol === 'udp';
    let id = `${opts.owner}:${info.name}:${port.containerPort}${udp ? ':udp' : ''}`;
    const customId = meta.get('id');
    if (customId !== undefined && customId !== '') {
      if (!SERVICE_ID.test(customId))
        throw new LabelError(
          src('id'),
          `${src('id')}="${escaped(customId)}" is not a valid service ID (1-200 of letters, digits and _.:@-)`,
        );
      id = customId;
    } else if (!SERVICE_ID.test(id)) {
      throw new LabelError('name', `the generated service ID "${escaped(id)}" is not safe; set SERVICE_ID`);
    }
    if (seenIds.has(id)) throw new LabelError(src('id'), `${src('id')} gives two ports the same service ID "${id}"`);
    seenIds.add(id);

    const tags: string[] = [];
    const addTag = (t: string, from: string) => {
      if (!TAG.test(t))
        throw new LabelError(
          from,
          `${from}: tag "${escaped(t)}" must be 1-255 characters without spaces, quotes, braces or semicolons`,
        );
      if (!tags.includes(t)) tags.push(t);
    };
    if (color) addTag(color, `label ${opts.colorLabel}`);
    for (const t of splitList(meta.get('tags') ?? '')) addTag(t, src('tags'));
    for (const t of opts.extraTags) addTag(t, '--tags');
    if (udp) addTag('udp', 'protocol');

    let address: string;
    let servicePort: number;
    if (opts.internal) {
      address = network?.ipAddress ?? opts.advertiseIp ?? '';
      servicePort = port.containerPort;
    } else if (hostNetwork) {
      address = opts.advertiseIp ?? '';
      servicePort = port.containerPort;
    } else {
      // Empty address: Consul uses the agent's own advertised address.
      address = opts.advertiseIp ?? (isUnspecified(port.hostIp) ? '' : port.hostIp!);
      servicePort = port.hostPort!;
    }

    const userMeta: Record<string, string> = {};
    let metaCount = 0;
    for (const [key, value] of meta) {
      if (key === 'name' || key === 'id' || key === 'tags' || key === 'ignore' || key.startsWith('check_')) continue;
      if (/^\d+_/.test(key)) continue; // another port's override
      if (RESERVED_META_KEYS.has(key)) continue; // ours win; documented
      if (!META_KEY.test(key) || key.startsWith('consul-'))
        throw new LabelError(
          src(key),
          `${src(key)}: "${escaped(key)}" cannot be a Consul Meta key (letters, digits, _ and -, at most 128)`,
        );
      if (value.length > MAX_META_VALUE)
        throw new LabelError(src(key), `${src(key)} is longer than ${MAX_META_VALUE} characters`);
      if (++metaCount > MAX_META - RESERVED_META_KEYS.size)
        throw new LabelError(src(key), `too many SERVICE_* metadata keys (Consul allows ${MAX_META} Meta entries)`);
      userMeta[key] = value;
    }
    const serviceMeta: Record<string, string> = {
      ...userMeta,
      [META_OWNER]: opts.owner,
      [META_CONTAINER_ID]: info.id,
      [META_CONTAINER_NAME]: info.name,
      [META_IMAGE]: info.image.slice(0, MAX_META_VALUE),
      ...(info.imageId ? { [META_IMAGE_ID]: info.imageId.slice(0, MAX_META_VALUE) } : {}),
      ...(color ? { [META_COLOR]: color } : {}),
    };

    const checks: ServiceCheck[] = [];
    const userCheck = buildCheck(meta, src, id, address || '127.0.0.1', servicePort);
    if (userCheck) checks.push(userCheck);
    if (info.health) checks.push(dockerHealthCheck(id, info.health, opts.healthTtl));

    services.push({ id, name, tags, address, port: servicePort, meta: sortRecord(serviceMeta), checks });
  }
  if (services.length === 0) notes.push('every port is ignored or unnamed, so there is nothing to register');
  return { selected: true, services, notes };
}

function pickNetwork(info: ContainerInfo, wanted: string | undefined) {
  const withIp = info.networks.filter((n) => n.ipAddress || n.ipv6Address);
  const n = wanted ? withIp.find((x) => x.name === wanted) : withIp[0];
  return n ? { name: n.name, ipAddress: n.ipAddress || n.ipv6Address } : undefined;
}

/** Generic keys overlaid with this port's SERVICE_<port>_* keys (Registrator's rule). */
function portMetadata(md: Metadata, port: number): { values: Map<string, string>; fromPort: Set<string> } {
  const values = new Map<string, string>();
  const fromPort = new Set<string>();
  for (const [k, v] of md.values) if (!/^\d/.test(k)) values.set(k, v);
  const prefix = `${port}_`;
  for (const [k, v] of md.values)
    if (k.startsWith(prefix)) {
      const key = k.slice(prefix.length);
      values.set(key, v);
      fromPort.add(key);
    }
  return { values, fromPort };
}

const CHECK_KINDS = ['http', 'https', 'tcp', 'ttl'] as const;
/** Timeout of HTTP/HTTPS/TCP checks when SERVICE_CHECK_TIMEOUT is not set. */
export const DEFAULT_CHECK_TIMEOUT = '2s';
const CHECK_KEYS = new Set([
  'check_http',
  'check_https',
  'check_tcp',
  'check_ttl',
  'check_interval',
  'check_timeout',
  'check_deregister_after',
  'check_initial_status',
]);

function buildCheck(
  meta: Map<string, string>,
  src: (key: string) => string,
  serviceId: string,
  address: string,
  port: number,
): ServiceCheck | undefined {
  for (const key of meta.keys()) {
    if (!key.startsWith('check_') || CHECK_KEYS.has(key)) continue;
    const hint =
      key === 'check_script' || key === 'check_cmd'
        ? ' (script checks are not supported: use SERVICE_CHECK_HTTP, SERVICE_CHECK_TCP or a Docker HEALTHCHECK)'
        : '';
    throw new LabelError(
      src(key),
      `${src(key)} is not a known check form${hint}; expected SERVICE_CHECK_HTTP, HTTPS, TCP or TTL`,
    );
  }
  const duration = (key: string): string | undefined => {
    const v = meta.get(key);
    if (v === undefined || v === '') return undefined;
    if (!GO_DURATION.test(v))
      throw new LabelError(src(key), `${src(key)}="${escaped(v)}" is not a duration such as 10s or 1m`);
    return v;
  };
  const kinds = CHECK_KINDS.filter((k) => {
    const v = meta.get(`check_${k}`);
    return v !== undefined && !(k === 'tcp' ? OFF.has(v.toLowerCase()) : v === '');
  });
  if (kinds.length === 0) return undefined;
  if (kinds.length > 1)
    throw new LabelError(
      src(`check_${kinds[1]!}`),
      `only one of SERVICE_CHECK_HTTP, HTTPS, TCP or TTL may be set (got ${kinds.join(', ')})`,
    );
  const kind = kinds[0]!;
  const host = address.includes(':') ? `[${address}]` : address;
  const check: ServiceCheck = { checkId: `${serviceId}:check`, name: `${kind.toUpperCase()} check` };
  if (kind === 'http' || kind === 'https') {
    const path = meta.get(`check_${kind}`)!;
    if (!HTTP_PATH.test(path))
      throw new LabelError(
        src(`check_${kind}`),
        `${src(`check_${kind}`)}="${escaped(path)}" must be a path starting with /`,
      );
    check.http = `${kind}://${host}:${port}${path}`;
  } else if (kind === 'tcp') {
    check.tcp = `${host}:${port}`;
  } else {
    check.ttl = duration('check_ttl');
  }
  if (kind !== 'ttl') {
    check.interval = duration('check_interval') ?? '10s';
    // Not Consul's 10 s: removing a service makes the agent wait for its check in flight while it
    // holds its state lock, so every register, drain and deregister on that agent waits too. A
    // check against a container that just died hangs until its timeout, which put ghosts and
    // missing registrations of 7-10 s on a churning host (docs/registering.md, "Check timeout").
    check.timeout = duration('check_timeout') ?? DEFAULT_CHECK_TIMEOUT;
  }
  const deregisterAfter = duration('check_deregister_after');
  if (deregisterAfter) check.deregisterCriticalServiceAfter = deregisterAfter;
  const initial = meta.get('check_initial_status');
  if (initial !== undefined && initial !== '') {
    if (initial !== 'passing' && initial !== 'warning' && initial !== 'critical')
      throw new LabelError(
        src('check_initial_status'),
        `${src('check_initial_status')}="${escaped(initial)}": expected passing, warning or critical`,
      );
    check.status = initial;
  }
  return check;
}

function sortRecord(r: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => a.localeCompare(b)));
}
