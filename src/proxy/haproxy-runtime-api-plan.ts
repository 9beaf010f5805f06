import { isIP } from 'node:net';
import { ProxySocketError } from '../errors.js';

/**
 * The pure half of the HAProxy Runtime API path: from the installed and the candidate config (both
 * rendered with the slot layout of templates/haproxy.cfg.eta, see docs/templates.md) to the admin
 * socket commands that make the running HAProxy serve the candidate without a reload — or the
 * reason a reload is needed.
 *
 * Only `server` lines may differ: same backends and every other line the same, every slot of the
 * installed config still there, every active slot at an IP literal. Slots the candidate adds (a
 * slot block growing, the first server of a backend that had none) become HAProxy 2.6 dynamic servers
 * (`add server`); a backend with no server is an ordinary skeleton with nothing to match. Anything
 * else (a service added, a slot removed, a template edit, a host-name server) is structural and goes
 * through a checked reload.
 */
export interface ServerSlot {
  backend: string;
  name: string;
  /** A spare: `server <name> 0.0.0.0:0 disabled weight 0`. */
  spare: boolean;
  address: string;
  port: number;
  weight: number;
  /** The `default-server` settings that apply to it (dynamic servers do not inherit them). */
  defaults: string;
  /** Health-checked (`check` in those settings). */
  checked: boolean;
}

export type RuntimePlan =
  { kind: 'structural'; why: string } | { kind: 'runtime'; commands: string[]; changed: number; servers: ServerSlot[] };

const SERVER = /^\s*server\s+(\S+)\s+(\S+)(.*)$/;
const SECTION =
  /^(global|defaults|frontend|backend|listen|peers|resolvers|userlist|program|cache|ring|http-errors|mailers)\b\s*(\S*)/;

interface Parsed {
  skeleton: string[];
  servers: ServerSlot[];
  problem?: string;
}

function splitEndpoint(endpoint: string): { address: string; port: number } | undefined {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(endpoint);
  if (!m) return undefined;
  return { address: m[1]!, port: Number(m[2]) };
}

export function parseServers(config: string): Parsed {
  const skeleton: string[] = [];
  const servers: ServerSlot[] = [];
  let section = '';
  let problem: string | undefined;
  let defaultsServer = '';
  let sectionServer = '';
  for (const line of config.split('\n')) {
    const sec = SECTION.exec(line);
    if (sec) {
      section = sec[1] === 'backend' || sec[1] === 'listen' ? sec[2]! : '';
      if (sec[1] === 'defaults') defaultsServer = '';
      sectionServer = defaultsServer;
    }
    const defaultServer = /^\s*default-server\b(.*)$/.exec(line);
    if (defaultServer) {
      const settings = defaultServer[1]!.trim();
      if (section) sectionServer = settings;
      else defaultsServer = sectionServer = settings;
    }
    // Comments say what the config serves ("live green"), so they change with every switch.
    if (line.trim().startsWith('#')) continue;
    const m = SERVER.exec(line);
    if (!m || !section) {
      skeleton.push(line);
      continue;
    }
    const [, name, endpoint, rest] = m as unknown as [string, string, string, string];
    // Server lines stay out of the skeleton: slots are compared by name, and new ones may be added.
    const ep = splitEndpoint(endpoint);
    const weight = /\bweight\s+(\d+)/.exec(rest);
    const spare = /\bdisabled\b/.test(rest);
    const extra = rest
      .replace(/\bweight\s+\d+/, '')
      .replace(/\bdisabled\b/, '')
      .trim();
    if (!ep || !weight) problem ??= `server ${section}/${name} is not in the slot layout ("${line.trim()}")`;
    else if (!spare && isIP(ep.address) === 0)
      problem ??= `server ${section}/${name} points at a host name (${ep.address}); only a reload resolves it`;
    else if (extra) problem ??= `server ${section}/${name} has settings beyond address and weight ("${extra}")`;
    servers.push({
      backend: section,
      name,
      spare,
      address: ep?.address ?? '',
      port: ep?.port ?? 0,
      weight: weight ? Number(weight[1]) : 0,
      defaults: sectionServer,
      checked: /\bcheck\b/.test(sectionServer) && !/\bno-check\b/.test(sectionServer),
    });
  }
  return { skeleton, servers, ...(problem ? { problem } : {}) };
}

function firstDifference(a: string[], b: string[]): string {
  for (let i = 0; i < Math.max(a.length, b.length); i++)
    if (a[i] !== b[i]) return `line ${i + 1}: "${(a[i] ?? '(none)').trim()}" → "${(b[i] ?? '(none)').trim()}"`;
  return 'no difference';
}

/**
 * Commands bring new capacity in before taking old capacity out, so a backend never has a moment
 * with no server: addresses, raised weights and `state ready` first; lowered weights and
 * `state maint` after.
 *
 * A slot that gets a new address keeps HAProxy's health state of the old one: a slot whose
 * instance died (checks failed, DOWN) and that now points at a passing instance would stay DOWN
 * for rise × inter, its share going to the other servers of the backend (measured: `DOWN 1/2`
 * after `set server … addr`). The instance is in the candidate because Consul says it passes, so
 * the plan sets `health up` after every new address on a checked slot; HAProxy's own checks go on
 * from there.
 */
export function planRuntime(installed: string, candidate: string): RuntimePlan {
  const before = parseServers(installed);
  const after = parseServers(candidate);
  if (after.problem) return { kind: 'structural', why: after.problem };
  if (before.problem) return { kind: 'structural', why: `installed config: ${before.problem}` };
  if (before.skeleton.join('\n') !== after.skeleton.join('\n'))
    return {
      kind: 'structural',
      why: `the config changed beyond server addresses and weights (${firstDifference(before.skeleton, after.skeleton)})`,
    };
  const slotId = (s: ServerSlot) => `${s.backend}/${s.name}`;
  const kept = new Set(after.servers.map(slotId));
  const gone = before.servers.find((s) => !kept.has(slotId(s)));
  if (gone) return { kind: 'structural', why: `server ${slotId(gone)} is no longer in the config` };
  const running = new Map(before.servers.map((s) => [slotId(s), s]));
  const up: string[] = [];
  const down: string[] = [];
  let changed = 0;
  after.servers.forEach((n) => {
    const id = slotId(n);
    let o = running.get(id);
    if (!o) {
      // A new slot: a dynamic server, added as a spare (HAProxy 2.6 adds servers disabled; they do
      // not inherit default-server, hence its settings here; `enable health` starts the checks once
      // the server leaves maintenance), then filled like any spare.
      up.push(`add server ${id} 0.0.0.0:0 weight 0 disabled${n.defaults ? ` ${n.defaults}` : ''}`);
      if (n.checked) up.push(`enable health ${id}`);
      o = { ...n, spare: true, address: '0.0.0.0', port: 0, weight: 0 };
      if (n.spare) {
        changed += 1;
        return;
      }
    }
    if (o.spare === n.spare && o.address === n.address && o.port === n.port && o.weight === n.weight) return;
    changed += 1;
    if (n.spare) {
      if (!o.spare) down.push(`set weight ${id} 0`, `set server ${id} state maint`);
      return;
    }
    const moved = o.spare || o.address !== n.address || o.port !== n.port;
    if (moved) up.push(`set server ${id} addr ${n.address} port ${n.port}`);
    if (o.spare || o.weight !== n.weight)
      (n.weight >= o.weight || o.spare ? up : down).push(`set weight ${id} ${n.weight}`);
    if (o.spare) up.push(`set server ${id} state ready`);
    if (moved && n.checked) up.push(`set server ${id} health up`);
  });
  return { kind: 'runtime', commands: [...up, ...down], changed, servers: after.servers };
}

/** One row of `show servers state` (format version 1), the fields the check below needs. */
export interface ServerStateRow {
  backend: string;
  name: string;
  address: string;
  port: number;
  /** srv_op_state: 0 stopped, 1 starting, 2 running, 3 stopping. */
  opState: number;
  /** srv_admin_state bit field (0x01 forced, 0x02 inherited, 0x20 DNS maintenance; 0x04 configured `disabled`). */
  adminState: number;
  /** srv_uweight: the weight in effect. */
  weight: number;
}

export function parseServersState(text: string): ServerStateRow[] {
  const lines = text.split('\n').map((l) => l.trim());
  const header = lines.find((l) => l.startsWith('#'));
  if (!header) throw new ProxySocketError(`"show servers state" answered without a header: ${text.slice(0, 200)}`);
  const cols = header.replace(/^#\s*/, '').split(/\s+/);
  const at = (name: string) => {
    const i = cols.indexOf(name);
    if (i < 0) throw new ProxySocketError(`"show servers state" has no ${name} column`);
    return i;
  };
  const idx = {
    be: at('be_name'),
    srv: at('srv_name'),
    addr: at('srv_addr'),
    op: at('srv_op_state'),
    admin: at('srv_admin_state'),
    uw: at('srv_uweight'),
    port: at('srv_port'),
  };
  return lines
    .filter((l) => l && !l.startsWith('#') && /\s/.test(l))
    .map((l) => l.split(/\s+/))
    .map((f) => ({
      backend: f[idx.be]!,
      name: f[idx.srv]!,
      address: f[idx.addr]!,
      port: Number(f[idx.port]),
      opState: Number(f[idx.op]),
      adminState: Number(f[idx.admin]),
      weight: Number(f[idx.uw]),
    }));
}

// Forced, inherited or DNS maintenance. 0x04 only remembers that the config said `disabled`: a slot
// made ready at runtime keeps it while serving.
const MAINTENANCE = 0x01 | 0x02 | 0x20;

/** What differs between the running servers and the slots the candidate declares; empty when they match. */
export function stateMismatches(servers: readonly ServerSlot[], rows: readonly ServerStateRow[]): string[] {
  const byId = new Map(rows.map((r) => [`${r.backend}/${r.name}`, r]));
  const out: string[] = [];
  for (const s of servers) {
    const id = `${s.backend}/${s.name}`;
    const r = byId.get(id);
    if (!r) {
      out.push(`${id} is not running`);
      continue;
    }
    if (s.spare) {
      if ((r.adminState & MAINTENANCE) === 0 && r.weight !== 0) out.push(`${id} should be out of rotation`);
      continue;
    }
    if (r.address !== s.address || r.port !== s.port)
      out.push(`${id} points at ${r.address}:${r.port}, not ${s.address}:${s.port}`);
    if (r.weight !== s.weight) out.push(`${id} has weight ${r.weight}, not ${s.weight}`);
    if ((r.adminState & MAINTENANCE) !== 0) out.push(`${id} is still in maintenance`);
  }
  return out;
}
