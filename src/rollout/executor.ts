import type { ConsulClient } from '../consul/consul-client.js';
import { runBlockingQuery } from '../consul/blocking-query.js';
import { ConsulSession } from '../consul/session.js';
import { errorMessage } from '../errors.js';
import { once, type Lifecycle } from '../lifecycle.js';
import { sleep } from '../time/sleep.js';
import type { Logger } from '../log/logger.js';
import { DEFAULT_COLOR_TAGS, healthByColor } from '../switch/instance-health.js';
import { SwitchStateStore } from '../switch/state-store.js';
import { tick } from './machine.js';
import { isActive, lockKey } from './plan.js';
import { RolloutStore } from './rollout-store.js';
import { totalsFor } from '../domain/traffic.js';

/**
 * The thin, I/O half of rollouts, run by every `switchyard run` (any roles; `--no-rollouts` opts a
 * daemon out). It watches `<kv-prefix>/rollouts/`; for each active plan it tries to take the plan's
 * lock with its Consul session, and the one daemon that holds it runs the plan: read plan, state,
 * health and traffic → tick() → write the service state (with history) first, then the plan.
 * When the holder dies its session's TTL runs out, Consul releases the lock, and after the
 * lock-delay another daemon takes it and continues from the plan's recorded step.
 */
export interface RolloutExecutorOptions {
  consul: ConsulClient;
  kvPrefix: string;
  logger: Logger;
  /** This daemon, in history entries (`rollout@<node>`) and the lock's value. */
  node: () => Promise<string>;
  colorTags?: readonly string[];
  sessionTtlMs?: number;
  lockDelayMs?: number;
  /** How often a daemon that does not hold a lock tries to take it. */
  lockRetryMs?: number;
  now?: () => Date;
}

interface Worker {
  wake: () => void;
  done: Promise<void>;
}

export class RolloutExecutor implements Lifecycle {
  private readonly store: RolloutStore;
  private readonly states: SwitchStateStore;
  private readonly session: ConsulSession;
  private readonly log: Logger;
  private readonly stop = new AbortController();
  private readonly workers = new Map<string, Worker>();
  private watchLoop: Promise<void> | undefined;
  private by = 'rollout@unknown';
  private readonly now: () => Date;

  constructor(private readonly o: RolloutExecutorOptions) {
    this.log = o.logger.child({ component: 'rollout' });
    this.store = new RolloutStore(o.consul, o.kvPrefix);
    this.states = new SwitchStateStore(o.consul, o.kvPrefix);
    this.now = o.now ?? (() => new Date());
    this.session = new ConsulSession({
      consul: o.consul,
      name: 'switchyard rollout executor',
      ttlMs: o.sessionTtlMs ?? 10_000,
      lockDelayMs: o.lockDelayMs ?? 15_000,
      logger: o.logger,
      onLost: () => {
        for (const w of this.workers.values()) w.wake();
      },
    });
  }

  start(): Promise<void> {
    // The session is created only when a plan needs executing: a daemon that never runs a rollout
    // never asks for one (nor needs the ACL for it).
    this.watchLoop = this.watch();
    return Promise.resolve();
  }

  readonly close = once(async (): Promise<void> => {
    this.stop.abort();
    for (const w of this.workers.values()) w.wake();
    await this.watchLoop;
    await Promise.all([...this.workers.values()].map((w) => w.done));
    // Destroying the session releases every lock at once (lock-delay still applies to takers).
    await this.session.close();
  });

  private async watch(): Promise<void> {
    try {
      this.by = `rollout@${await this.o.node()}`;
    } catch (err) {
      this.log.warn(`could not read this daemon's node name: ${errorMessage(err)}; history says rollout@unknown`);
    }
    await runBlockingQuery(
      {
        name: 'rollout plans',
        fetch: (opts) =>
          this.store.list(opts).then(({ index, plans, problems }) => ({ index, value: { plans, problems } })),
        equals: (a, b) => JSON.stringify(a) === JSON.stringify(b),
        onChange: ({ plans, problems }) => {
          for (const p of problems) this.log.warn(p);
          for (const plan of plans) {
            const w = this.workers.get(plan.service);
            if (w) w.wake();
            else if (isActive(plan.phase)) this.spawn(plan.service);
          }
        },
        // Once per outage as a warning, the retries at debug level, as the render role's watches do.
        onError: (err, attempt, retry) => {
          const line = `cannot watch rollout plans: ${errorMessage(err)}; retrying in ${retry} ms`;
          if (attempt === 1) this.log.warn(line);
          else this.log.debug(line);
        },
        waitMs: 60_000,
      },
      this.stop.signal,
    );
  }

  private spawn(service: string): void {
    let wake: () => void = () => undefined;
    let kick = new AbortController();
    wake = () => kick.abort();
    const worker: Worker = {
      wake: () => wake(),
      done: (async () => {
        try {
          for (;;) {
            if (this.stop.signal.aborted) return;
            const wakeAt = await this.step(service);
            if (wakeAt === 'done') return;
            const signal = AbortSignal.any([kick.signal, this.stop.signal]);
            await sleep(Math.max(0, Math.min(wakeAt - Date.now(), 60_000)), signal);
            if (kick.signal.aborted) kick = new AbortController();
          }
        } finally {
          this.workers.delete(service);
        }
      })(),
    };
    this.workers.set(service, worker);
  }

  /** One pass for one service; returns when to look again, or 'done' when its plan is not active. */
  private async step(service: string): Promise<number | 'done'> {
    const retry = Date.now() + (this.o.lockRetryMs ?? 1000);
    try {
      const stored = await this.store.read(service);
      if (stored.invalid) {
        this.log.warn(stored.invalid, { service });
        return 'done';
      }
      const plan = stored.plan;
      const key = lockKey(this.o.kvPrefix, service);
      if (!plan || !isActive(plan.phase)) {
        await this.release(key);
        return 'done';
      }
      await this.session.start();
      const session = this.session.id;
      if (!session) return retry;
      const lock = await this.o.consul.kvGet(key);
      if (lock?.session !== session) {
        const value = JSON.stringify({ by: this.by, at: this.now().toISOString() });
        if (!(await this.o.consul.kvAcquire(key, value, session))) return retry;
        this.log.info(
          `${service}: this daemon now executes the rollout of ${plan.color} (at step ${plan.step + 1} of ${plan.steps.length})`,
          {
            service,
          },
        );
      }

      const [state, health, traffic] = await Promise.all([
        this.states.readState(service),
        this.o.consul.healthService(service),
        this.store.trafficReports().catch((err: unknown) => {
          this.log.warn(`cannot read traffic reports: ${errorMessage(err)}`, { service });
          return undefined;
        }),
      ]);
      const result = tick({
        plan,
        now: this.now(),
        state: state.state,
        health: healthByColor(health.value, this.o.colorTags ?? DEFAULT_COLOR_TAGS),
        traffic: traffic ? totalsFor(traffic.reports, service) : undefined,
        by: this.by,
      });
      // The state first, then the plan: a daemon taking over in between finds the state ahead of
      // the plan, which tick() recognises (see machine.ts).
      // Entries first: they say what led to the change (the start before the first step).
      for (const e of result.entries) await this.states.appendHistory(service, e);
      if (result.change) {
        const written = await this.states.commit(service, state.modifyIndex, result.change.state, result.change.entry);
        for (const w of written.warnings) this.log.warn(w, { service });
      }
      for (const line of result.log) this.log.info(line, { service, color: plan.color });
      if (result.plan !== plan && !(await this.store.write(result.plan, stored.modifyIndex))) return Date.now();
      if (!isActive(result.plan.phase)) {
        await this.release(key);
        return 'done';
      }
      return result.wakeAt;
    } catch (err) {
      if (this.stop.signal.aborted) return 'done';
      this.log.warn(`${service}: rollout step failed: ${errorMessage(err)}; trying again`, { service });
      return retry;
    }
  }

  private async release(key: string): Promise<void> {
    const session = this.session.id;
    if (!session) return;
    const lock = await this.o.consul.kvGet(key);
    if (lock?.session === session) await this.o.consul.kvRelease(key, lock.value, session);
  }
}
