/**
 * The fault soak's invariants (docs/reliability.md), as a pure tracker: the harness feeds it one
 * observation of Docker, Consul and the proxy per tick, and the fault windows; it counts each
 * violation once, with when and what, so the report can name them.
 *
 * A condition (a ghost, a missing registration, an instance served while not passing) is a
 * violation only once it has lasted `thresholdMs` at settled times: a fault window and the settle
 * time after it do not count, and the clock restarts when a window ends — the system gets the
 * settle time to converge after a fault, and `thresholdMs` for each ordinary change.
 */

export interface RunningContainer {
  id: string;
  name: string;
  service: string;
}

export interface RegisteredInstance {
  serviceId: string;
  service: string;
  containerId: string;
  /** address:port as registered. */
  endpoint: string;
  passing: boolean;
}

export interface Observation {
  at: number;
  /** Running, labelled containers of the soak (by container id). */
  running: ReadonlyMap<string, RunningContainer>;
  /** This host's registrations in Consul (by service id). */
  registered: ReadonlyMap<string, RegisteredInstance>;
  /** address:port of every server the proxy sends traffic to now; undefined when it cannot be asked. */
  served: ReadonlySet<string> | undefined;
}

export interface FaultWindow {
  fault: string;
  start: number;
  /** undefined while the fault is still in progress. */
  end: number | undefined;
}

export type CounterName = 'ghosts' | 'missing' | 'servedNotPassing';

export interface Violation {
  counter: CounterName;
  key: string;
  /** When the condition began to count (first seen, or the end of the settle time). */
  since: number;
  /** When it had lasted thresholdMs. */
  at: number;
  detail: string;
}

/**
 * A churn SIGKILL cannot be drained: requests the instance holds are cut, and new ones reach it
 * until the registrar's deregistration reaches the proxy. Failures this soon after one are
 * counted apart (failedAfterKill), not as failures outside fault windows.
 */
export const KILL_GRACE_MS = 2_000;

export interface RequestCounts {
  ok: number;
  failedOutside: number;
  failedAfterKill: number;
  failedInside: number;
  /** Failed requests inside windows, by fault. */
  failedByFault: Record<string, number>;
}

export class SoakInvariants {
  readonly windows: FaultWindow[] = [];
  readonly violations: Violation[] = [];
  readonly requests: RequestCounts = {
    ok: 0,
    failedOutside: 0,
    failedAfterKill: 0,
    failedInside: 0,
    failedByFault: {},
  };
  private readonly kills: number[] = [];
  /** Failed requests outside windows: the first few, with when and why. */
  readonly outsideFailures: Array<{ at: number; why: string }> = [];
  /** The longest any condition lasted at settled times (ms), counted or not: how close to N it came. */
  readonly longest: Record<CounterName, number> = { ghosts: 0, missing: 0, servedNotPassing: 0 };
  private readonly since = new Map<string, number>();
  private readonly counted = new Set<string>();

  constructor(
    readonly thresholdMs: number,
    readonly settleMs: number,
  ) {}

  faultStarted(fault: string, at: number): FaultWindow {
    const w: FaultWindow = { fault, start: at, end: undefined };
    this.windows.push(w);
    return w;
  }

  faultEnded(w: FaultWindow, at: number): void {
    w.end = at;
  }

  /** The fault window (with its settle time) that covers `at`, if any. */
  windowAt(at: number, until = at): FaultWindow | undefined {
    return this.windows.find((w) => until >= w.start && (w.end === undefined || at <= w.end + this.settleMs));
  }

  /** When the last window covering a time up to `at` stopped covering (its end + settle), or 0. */
  private settledSince(at: number): number {
    let t = 0;
    for (const w of this.windows) {
      if (w.start > at) continue;
      const until = w.end === undefined ? Number.POSITIVE_INFINITY : w.end + this.settleMs;
      t = Math.max(t, until);
    }
    return t;
  }

  /** A churn SIGKILL at `at`. */
  killed(at: number): void {
    this.kills.push(at);
    if (this.kills.length > 1_000) this.kills.splice(0, 500);
  }

  request(at: number, ok: boolean, why = '', endedAt = at): void {
    if (ok) {
      this.requests.ok += 1;
      return;
    }
    // A request in flight when a fault began (started just before, cut by it) belongs to that fault.
    const w = this.windowAt(at, endedAt);
    if (w) {
      this.requests.failedInside += 1;
      this.requests.failedByFault[w.fault] = (this.requests.failedByFault[w.fault] ?? 0) + 1;
    } else if (this.kills.some((k) => endedAt >= k - 500 && at <= k + KILL_GRACE_MS)) {
      this.requests.failedAfterKill += 1;
    } else {
      this.requests.failedOutside += 1;
      if (this.outsideFailures.length < 50) this.outsideFailures.push({ at, why });
    }
  }

  observe(o: Observation): void {
    const present = new Map<string, { counter: CounterName; detail: string }>();
    const registeredContainers = new Set<string>();
    for (const r of o.registered.values()) {
      registeredContainers.add(r.containerId);
      if (!o.running.has(r.containerId))
        present.set(`ghost:${r.serviceId}`, {
          counter: 'ghosts',
          detail: `${r.serviceId} (${r.endpoint}) is registered but container ${r.containerId.slice(0, 12)} is not running`,
        });
    }
    for (const c of o.running.values())
      if (!registeredContainers.has(c.id))
        present.set(`missing:${c.id}`, {
          counter: 'missing',
          detail: `container ${c.name} (${c.id.slice(0, 12)}, service ${c.service}) runs but is not registered`,
        });
    if (o.served) {
      const passing = new Set<string>();
      for (const r of o.registered.values()) if (r.passing) passing.add(r.endpoint);
      for (const endpoint of o.served)
        if (!passing.has(endpoint))
          present.set(`served:${endpoint}`, {
            counter: 'servedNotPassing',
            detail: `the proxy sends traffic to ${endpoint}, which is not a passing instance in Consul`,
          });
    }

    // Served-not-passing cannot be judged while the proxy cannot be asked: keep its clocks as they are.
    for (const key of [...this.since.keys()])
      if (!present.has(key) && !(o.served === undefined && key.startsWith('served:'))) this.since.delete(key);
    const settledAt = this.settledSince(o.at);
    const unsettled = this.windowAt(o.at) !== undefined;
    for (const [key, { counter, detail }] of present) {
      if (!this.since.has(key)) this.since.set(key, o.at);
      if (unsettled) continue;
      const since = Math.max(this.since.get(key)!, settledAt);
      this.longest[counter] = Math.max(this.longest[counter], o.at - since);
      if (this.counted.has(key)) continue;
      if (o.at - since >= this.thresholdMs) {
        this.counted.add(key);
        this.violations.push({ counter, key, since, at: o.at, detail });
      }
    }
  }

  count(counter: CounterName): number {
    return this.violations.filter((v) => v.counter === counter).length;
  }
}
