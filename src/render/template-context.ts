import type { CheckStatus } from '../domain/check-status.js';
import type { Instance, ServiceSnapshot, Snapshot } from '../snapshot/snapshot.js';
import { COLOR_PATTERN } from '../domain/color.js';
import { liveColor } from '../snapshot/live-color.js';
import { safeName } from './safe-name.js';
import type { TemplateParams } from './template-params.js';
import { validAddress, validHostName, type AddressKind } from '../domain/address.js';
import {
  commentText,
  formatEndpoint,
  quoteHaproxy,
  quoteNginx,
  validHttpPath,
  validPort,
  validToken,
} from './validate.js';
import { perServerWeights } from './weights.js';
import { quoted } from '../log/text.js';

/**
 * What a template sees as `it` (docs/templates.md is the reference). Built from a snapshot by a pure
 * function; every value in it is validated or only reachable through an escaping helper, so a
 * hostile label or Consul answer cannot put a directive into a proxy config.
 */

/** The color key of instances registered without a color. */
export const UNCOLORED = 'uncolored';

export interface InstanceView {
  /** safeName of the Consul service ID. */
  readonly id: string;
  /** safeName of the Consul node. */
  readonly node: string;
  readonly address: string;
  readonly addressKind: AddressKind;
  /** True for an IP literal (nginx cannot start with an unresolvable hostname). */
  readonly isIp: boolean;
  readonly port: number;
  /** `address:port`, with brackets around IPv6. */
  readonly endpoint: string;
  readonly color: string;
  readonly health: CheckStatus;
  readonly maintenance: boolean;
  /** Health passing and not in maintenance: the only instances that get traffic. */
  readonly passing: boolean;
  hasTag(tag: string): boolean;
  /** A meta value when it is a plain token (letters, digits, `._:/@+=,-`), else undefined. */
  meta(key: string): string | undefined;
}

/** One `server` line of an HAProxy backend (or an nginx upstream server when `instance` is set). */
export interface ServerSlot {
  /** `<color>_<n>`, n from 1: the Runtime API name is `<backend>/<name>`. */
  readonly name: string;
  readonly color: string;
  /** 1-based position within the color. */
  readonly index: number;
  /** undefined: a spare slot (rendered disabled, at 0.0.0.0:0). */
  readonly instance: InstanceView | undefined;
  /** 0-256; 0 for spares and for colors without a share in this backend. */
  readonly weight: number;
}

export interface BackendView {
  /** `<service id>_live`, `<service id>_preview`, or `<service id>_c_<color id>` for a color's preview. */
  readonly name: string;
  readonly role: 'live' | 'preview' | 'color';
  /** Role `color`: the color this backend serves (it may have no slot, with serverSlots 0). */
  readonly color?: string;
  /** color → percent of this backend's traffic (sums to 100 when any color is set). */
  readonly percent: Readonly<Record<string, number>>;
  /** Every slot, color by color (sorted), instances first then spares. */
  readonly slots: readonly ServerSlot[];
  /** Slots with an instance and a weight above 0: what nginx lists, and what actually serves. */
  readonly active: readonly ServerSlot[];
}

export interface ServiceView {
  /** safeName of the service name: use it for every proxy identifier. */
  readonly id: string;
  /** The service name as an HTTP Host to route on, when it is a valid hostname. */
  readonly host: string | undefined;
  /** The name for a `#` comment (control characters removed). */
  readonly comment: string;
  /** Meta `health_path` of the first instance that has a valid one, else '/'. */
  readonly healthPath: string;
  /**
   * Every color with a valid instance, plus live, idle, previous, weighted and — unless the service
   * serves only uncolored instances — the configured colors (`--colors`), sorted.
   */
  readonly colors: readonly string[];
  readonly live: string | undefined;
  readonly idle: string | undefined;
  /** Canary: the KV state holds weights. */
  readonly canary: boolean;
  /** color → percent of the main port's traffic. */
  readonly weights: Readonly<Record<string, number>>;
  /** Valid instances, passing or not, in snapshot order. */
  readonly instances: readonly InstanceView[];
  readonly passing: readonly InstanceView[];
  /** Passing instances of one color. */
  byColor(color: string | undefined): readonly InstanceView[];
  /** The main port's backend (live color, or the canary split). */
  readonly liveBackend: BackendView;
  /** The preview port's backend (idle color). */
  readonly previewBackend: BackendView;
  /**
   * One backend per color (not `uncolored`), for the preview header and cookie on the main port:
   * each color's servers only. A request naming a color goes there while it has a usable server.
   */
  readonly colorBackends: readonly BackendView[];
  /**
   * During a sticky rollout: the cookie value that pins a client to each canary color
   * (`<color>~<token>`), by color. Empty otherwise, so an old cookie pins nobody.
   */
  readonly sticky: Readonly<Record<string, string>>;
  readonly isDefault: boolean;
}

export interface TemplateContext {
  /** Sorted by name. */
  readonly services: readonly ServiceView[];
  /** Services with a host, longest host first (so `api.v2` is tried before `api`). */
  readonly routed: readonly ServiceView[];
  /** Where requests with no matching Host go: param defaultService, else the only/first service. */
  readonly defaultService: ServiceView | undefined;
  readonly params: TemplateParams;
  /** `bind:port` for a listen/bind line. */
  listen(port: number): string;
  /** A raw template parameter (operator input): quote it with the helper of the proxy's syntax. */
  param(key: string, fallback?: string): string | undefined;
  safeName(value: string): string;
  quoteHaproxy(value: unknown): string;
  quoteNginx(value: unknown): string;
  comment(value: unknown): string;
}

export interface ContextResult {
  context: TemplateContext;
  /** One line per value left out, for the caller to log. */
  warnings: string[];
}

/** A bounded, quoted rendering of an untrusted value for a log line. */
const show = (v: unknown): string => quoted(v, 80);

export interface ContextOptions {
  /**
   * The configured colors (`--colors`). Every service that is not only uncolored has slots and a
   * preview backend for each, whether or not it has instances of it: a color's first instance then
   * changes only `server` lines (the Runtime API fills a spare, no reload). Default none.
   */
  readonly colors?: readonly string[];
}

export function buildTemplateContext(
  snapshot: Snapshot,
  params: TemplateParams,
  options: ContextOptions = {},
): ContextResult {
  const warnings: string[] = [];
  const configured = (options.colors ?? []).filter((c) => COLOR_PATTERN.test(c));
  const services = snapshot.services.map((s) => buildService(s, params, configured, warnings));
  const routed = services.filter((s) => s.host !== undefined).sort((a, b) => b.host!.length - a.host!.length);
  let defaultService = services[0];
  if (params.defaultService !== undefined) {
    const chosen = snapshot.services.findIndex((s) => s.name === params.defaultService);
    if (chosen >= 0) defaultService = services[chosen];
    else if (services.length > 0)
      warnings.push(
        `template param defaultService names ${show(params.defaultService)}, which is not in the catalog; using ${show(snapshot.services[0]!.name)}`,
      );
  }
  const withDefault = services.map((s) => (s === defaultService ? { ...s, isDefault: true } : s));
  const context: TemplateContext = {
    services: withDefault,
    routed: routed.map((r) => withDefault[services.indexOf(r)]!),
    defaultService: defaultService && withDefault[services.indexOf(defaultService)],
    params,
    listen: (port) => `${params.bind}:${port}`,
    param: (key, fallback) => (Object.hasOwn(params.raw, key) ? params.raw[key] : fallback),
    safeName,
    quoteHaproxy,
    quoteNginx,
    comment: commentText,
  };
  return { context, warnings };
}

function buildService(
  s: ServiceSnapshot,
  params: TemplateParams,
  configured: readonly string[],
  warnings: string[],
): ServiceView {
  const id = safeName(s.name);
  const host = validHostName(s.name);
  if (host === undefined)
    warnings.push(
      `service ${show(s.name)} is not a valid hostname: it gets no Host route (only as the default service)`,
    );

  const instances: InstanceView[] = [];
  for (const i of s.instances) {
    const v = instanceView(i, s.name, warnings);
    if (v) instances.push(v);
  }
  const passing = instances.filter((i) => i.passing);
  const passingCount = new Map<string, number>();
  for (const i of passing) passingCount.set(i.color, (passingCount.get(i.color) ?? 0) + 1);

  const validColor = (c: string | undefined, what: string): string | undefined => {
    if (c === undefined) return undefined;
    if (COLOR_PATTERN.test(c)) return c;
    warnings.push(`service ${show(s.name)}: ${what} color ${show(c)} is not a valid color; ignored`);
    return undefined;
  };
  // The snapshot's live color; a service of only uncolored instances (--services) has none there, and
  // serves them as color "uncolored" by the same rule (snapshot/live-color.ts).
  const live = validColor(s.live, 'live') ?? liveColor(undefined, passingCount);
  const idleRaw = validColor(s.idle, 'idle');
  const idle = idleRaw === live ? undefined : idleRaw;

  const weights: Record<string, number> = {};
  const stateWeights = s.state?.weights;
  if (stateWeights) {
    for (const [c, w] of Object.entries(stateWeights)) {
      if (validColor(c, 'weighted') !== undefined && Number.isInteger(w) && w >= 0 && w <= 100) weights[c] = w;
    }
  }
  const canary = Object.keys(weights).length > 0;
  // The token is checked by the state schema; checked again, as everything reaching a config is.
  const token = s.state?.sticky;
  const sticky: Record<string, string> = {};
  if (canary && token !== undefined && /^[a-z0-9]{1,16}$/.test(token))
    for (const [c, w] of Object.entries(weights)) if (w > 0 && c !== live) sticky[c] = `${c}~${token}`;
  if (!canary && live !== undefined) weights[live] = 100;

  // The previous live color keeps its (empty) slots: tearing it down after a switch, and
  // redeploying it for a rollback, then change only server lines — Runtime API, no reload.
  const previous = validColor(s.state?.previous, 'previous');
  const seen = new Set([
    ...instances.map((i) => i.color),
    ...(live ? [live] : []),
    ...(idle ? [idle] : []),
    ...(previous ? [previous] : []),
    ...Object.keys(weights),
  ]);
  // The configured colors are always there, empty or not, so the config's structure does not depend
  // on which colors have instances: a first green instance next to blue fills a spare through the
  // Runtime API instead of adding a backend (a reload). A plain, uncolored service gets none.
  if (!(seen.size === 1 && seen.has(UNCOLORED))) for (const c of configured) seen.add(c);
  const colors = [...seen].sort();

  const healthPath =
    instances.map((i) => validHttpPath(i.meta('health_path'))).find((p) => p !== undefined) ??
    healthPathWarning(s, warnings) ??
    '/';

  const byColor = (color: string | undefined) => passing.filter((i) => i.color === (color ?? UNCOLORED));
  const backend = (role: BackendView['role'], percent: Record<string, number>, name?: string): BackendView => {
    const share = perServerWeights(new Map(Object.entries(percent)), passingCount);
    const slots: ServerSlot[] = [];
    for (const color of colors) {
      const members = byColor(color);
      const total = slotCount(members.length, params.serverSlots);
      const colorId = safeName(color);
      for (let n = 1; n <= total; n++) {
        const instance = members[n - 1];
        slots.push(
          Object.freeze({
            name: `${colorId}_${n}`,
            color,
            index: n,
            instance,
            weight: instance ? (share.get(color) ?? 0) : 0,
          }),
        );
      }
    }
    return Object.freeze({
      name: name ?? `${id}_${role}`,
      role,
      percent: Object.freeze({ ...percent }),
      slots: Object.freeze(slots),
      active: Object.freeze(slots.filter((sl) => sl.instance !== undefined && sl.weight > 0)),
    });
  };

  return Object.freeze({
    id,
    host,
    comment: commentText(s.name),
    healthPath,
    colors: Object.freeze(colors),
    live,
    idle,
    canary,
    weights: Object.freeze(weights),
    instances: Object.freeze(instances),
    passing: Object.freeze(passing),
    byColor,
    liveBackend: backend('live', weights),
    previewBackend: backend('preview', idle !== undefined ? { [idle]: 100 } : {}),
    colorBackends: Object.freeze(
      colors
        .filter((c) => c !== UNCOLORED)
        .map((c) => {
          const b = backend('color', { [c]: 100 }, `${id}_c_${safeName(c)}`);
          // Only this color's slots: the other colors' would be weight-0 dead weight.
          const slots = b.slots.filter((sl) => sl.color === c);
          return Object.freeze({ ...b, color: c, slots: Object.freeze(slots) });
        }),
    ),
    sticky: Object.freeze(sticky),
    isDefault: false,
  });
}

function healthPathWarning(s: ServiceSnapshot, warnings: string[]): undefined {
  const bad = s.instances.map((i) => i.meta.health_path).find((p) => p !== undefined);
  if (bad !== undefined)
    warnings.push(`service ${show(s.name)}: meta health_path ${show(bad)} is not a plain URL path; checking / instead`);
  return undefined;
}

/** Slots per color: blocks of `block`, always one spare; with block 0, exactly the instances. */
export function slotCount(instances: number, block: number): number {
  if (block <= 0) return instances;
  return Math.ceil((instances + 1) / block) * block;
}

function instanceView(i: Instance, service: string, warnings: string[]): InstanceView | undefined {
  const where = `service ${show(service)}: instance ${show(i.id)} on node ${show(i.node)} left out`;
  const address = validAddress(i.address);
  if (!address) {
    warnings.push(`${where}: address ${show(i.address)} is not an IP address or a hostname`);
    return undefined;
  }
  const port = validPort(i.port);
  if (port === undefined) {
    warnings.push(`${where}: port ${show(i.port)} is not a whole number from 1 to 65535`);
    return undefined;
  }
  if (i.color !== undefined && !COLOR_PATTERN.test(i.color)) {
    warnings.push(`${where}: color ${show(i.color)} is not 1-32 of a-z, 0-9, _ and -`);
    return undefined;
  }
  const tags = new Set(i.tags);
  const meta = i.meta;
  const passing = i.health === 'passing' && !i.maintenance;
  return Object.freeze({
    id: safeName(i.id),
    node: safeName(i.node),
    address: address.address,
    addressKind: address.kind,
    isIp: address.kind !== 'hostname',
    port,
    endpoint: formatEndpoint(address, port),
    color: i.color ?? UNCOLORED,
    health: i.health,
    maintenance: i.maintenance,
    passing,
    hasTag: (tag: string) => tags.has(tag),
    meta: (key: string) => (Object.hasOwn(meta, key) ? validToken(meta[key]) : undefined),
  });
}
