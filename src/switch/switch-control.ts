import type { ConsulClient } from '../consul/consul-client.js';
import { ConfigError, SwitchRefusedError, errorMessage } from '../errors.js';
import { sleep } from '../time/sleep.js';
import type { Logger } from '../log/logger.js';
import {
  decideCanary,
  decideRollback,
  decideSwitch,
  effectiveIdle,
  effectiveLive,
  type Decision,
  type DecisionInput,
} from './decisions.js';
import { DEFAULT_COLOR_TAGS, healthByColor, type ColorHealth, type InstanceView } from './instance-health.js';
import { rendererProgress, type RendererProgress } from './renderer-progress.js';
import type { HistoryEntry, ServiceState } from '../domain/service-state.js';
import { SwitchStateStore } from './state-store.js';

/**
 * switch / rollback / canary / status against Consul: reads state and health, asks the pure
 * decisions what to do, writes with check-and-set. No daemon is involved.
 */
export interface SwitchControlOptions {
  consul: ConsulClient;
  kvPrefix: string;
  logger: Logger;
  colorTags?: readonly string[];
  now?: () => Date;
}

export interface ChangeOptions {
  minPassing: number;
  force: boolean;
  by: string;
  reason?: string;
}

export interface ChangeResult {
  service: string;
  changed: boolean;
  message: string;
  warnings: string[];
  /** The state now stored (undefined after a no-op with no stored state). */
  state: ServiceState | undefined;
  /** What a render host must report before the change counts as live. */
  expect: { live: string; weights?: Record<string, number> } | undefined;
  /** When the change was written. */
  at: Date;
}

export interface ColorStatus {
  color: string;
  total: number;
  passing: number;
  instances: InstanceView[];
}

export interface ServiceStatus {
  service: string;
  live: string | undefined;
  idle: string | undefined;
  /** true when the live color comes from KV; false when derived (first color with a passing instance). */
  liveStored: boolean;
  weights: Record<string, number> | undefined;
  colors: ColorStatus[];
  uncolored: number;
  lastChange: HistoryEntry | undefined;
  problems: string[];
  renderers: RendererProgress['hosts'];
}

export class SwitchControl {
  private readonly consul: ConsulClient;
  private readonly store: SwitchStateStore;
  private readonly logger: Logger;
  private readonly colorTags: readonly string[];
  private readonly now: () => Date;

  constructor(options: SwitchControlOptions) {
    this.consul = options.consul;
    this.store = new SwitchStateStore(options.consul, options.kvPrefix);
    this.logger = options.logger.child({ component: 'switch' });
    this.colorTags = options.colorTags ?? DEFAULT_COLOR_TAGS;
    this.now = options.now ?? (() => new Date());
  }

  /** The Consul client, for the rollout commands that share this one. */
  get consulClient(): ConsulClient {
    return this.consul;
  }

  /** Services with stored state or colored instances, in name order. */
  async services(): Promise<string[]> {
    const names = new Set(await this.store.servicesWithState());
    const { value: catalog } = await this.consul.catalogServices();
    const candidates = Object.keys(catalog).filter((n) => n !== 'consul' && !names.has(n));
    const colored = await Promise.all(candidates.map(async (n) => ((await this.health(n)).size > 0 ? n : undefined)));
    for (const n of colored) if (n) names.add(n);
    return [...names].sort();
  }

  /** The service named, or the only one there is; a usage error otherwise. */
  async resolveService(service: string | undefined): Promise<string> {
    if (service) return service;
    const all = await this.services();
    if (all.length === 1) return all[0]!;
    if (all.length === 0)
      throw new ConfigError(
        'no service has blue-green state or colored instances in Consul yet; name one with --service',
      );
    throw new ConfigError(`several services are deployed in colors (${all.join(', ')}); name one with --service`);
  }

  async health(service: string): Promise<Map<string, ColorHealth>> {
    const { value } = await this.consul.healthService(service);
    return healthByColor(value, this.colorTags);
  }

  switchTo(service: string, target: string, options: ChangeOptions): Promise<ChangeResult> {
    return this.change(service, options, (input) => decideSwitch(input, target));
  }

  rollback(service: string, options: ChangeOptions): Promise<ChangeResult> {
    return this.change(service, options, (input) => decideRollback(input));
  }

  canary(service: string, color: string, percent: number, options: ChangeOptions): Promise<ChangeResult> {
    return this.change(service, options, (input) => decideCanary(input, color, percent));
  }

  /** Polls every render host's report until each one serving `service` shows `expect`, or the timeout. */
  async waitForRenderers(
    service: string,
    expect: NonNullable<ChangeResult['expect']>,
    timeoutMs: number,
    onProgress: (p: RendererProgress) => void,
    signal?: AbortSignal,
  ): Promise<RendererProgress> {
    const deadline = Date.now() + timeoutMs;
    let index = 0;
    let last: RendererProgress | undefined;
    let lastText = '';
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0 || signal?.aborted) return last ?? rendererProgress(service, expect, []);
      try {
        const wait = AbortSignal.any([AbortSignal.timeout(remaining), ...(signal ? [signal] : [])]);
        const { index: next, reports } = await this.store.readReports({
          ...(index > 0 ? { index, waitMs: Math.min(remaining, 10_000) } : {}),
          signal: wait,
        });
        index = next < index ? 0 : next;
        last = rendererProgress(service, expect, reports);
        const text = JSON.stringify(last);
        if (text !== lastText) onProgress(last);
        lastText = text;
        if (last.done) return last;
      } catch (err) {
        if (Date.now() >= deadline || signal?.aborted) return last ?? rendererProgress(service, expect, []);
        this.logger.warn(`could not read render host reports: ${errorMessage(err)}; retrying`);
        await sleep(Math.min(1000, Math.max(0, deadline - Date.now())), signal);
      }
    }
  }

  async status(service?: string): Promise<ServiceStatus[]> {
    const names = service ? [service] : await this.services();
    const { reports, problems: reportProblems } = await this.store.readReports();
    return Promise.all(
      names.map(async (name): Promise<ServiceStatus> => {
        const [stored, history, health, raw] = await Promise.all([
          this.store.readState(name),
          this.store.readHistory(name),
          this.health(name),
          this.consul.healthService(name),
        ]);
        const live = effectiveLive(stored.state, health);
        const coloredCount = [...health.values()].reduce((n, c) => n + c.total, 0);
        const expect = live ? { live, ...(stored.state?.weights ? { weights: stored.state.weights } : {}) } : undefined;
        return {
          service: name,
          live,
          idle: effectiveIdle(stored.state, health),
          liveStored: stored.state !== undefined,
          weights: stored.state?.weights,
          colors: [...health.values()],
          uncolored: raw.value.length - coloredCount,
          lastChange: history.entries[history.entries.length - 1],
          problems: [...(stored.invalid ? [stored.invalid] : []), ...history.problems, ...reportProblems],
          renderers: expect ? rendererProgress(name, expect, reports).hosts : [],
        };
      }),
    );
  }

  private async input(
    service: string,
    options: ChangeOptions,
  ): Promise<{ decision: DecisionInput; modifyIndex: number; invalid?: string }> {
    const [stored, health] = await Promise.all([this.store.readState(service), this.health(service)]);
    return {
      decision: {
        service,
        current: stored.state,
        health,
        minPassing: options.minPassing,
        force: options.force,
        by: options.by,
        at: this.now().toISOString(),
        ...(options.reason ? { reason: options.reason } : {}),
      },
      modifyIndex: stored.modifyIndex,
      ...(stored.invalid ? { invalid: stored.invalid } : {}),
    };
  }

  private async change(
    service: string,
    options: ChangeOptions,
    decide: (input: DecisionInput) => Decision,
  ): Promise<ChangeResult> {
    return (await this.write(service, options, decide)).result;
  }

  /** A change, and the state key's index it leaves behind: its own write's, or the one it read when nothing changed. */
  private async write(
    service: string,
    options: ChangeOptions,
    decide: (input: DecisionInput) => Decision,
    expectedIndex?: number,
  ): Promise<{ result: ChangeResult; index: number }> {
    const { decision: input, modifyIndex, invalid } = await this.input(service, options);
    if (invalid) this.logger.warn(`${invalid}; this change replaces it`, { service });
    // A ramp passes the index it last wrote: anyone else's change in between stops the ramp.
    const cas = expectedIndex ?? modifyIndex;
    if (expectedIndex !== undefined && expectedIndex !== modifyIndex)
      throw new SwitchRefusedError(
        `the state of ${service} was changed by someone else during the canary (now live: ${input.current?.live ?? 'none'}${
          input.current?.updatedBy ? `, by ${input.current.updatedBy}` : ''
        }); the ramp stops here and leaves their change in place`,
      );
    const decision = decide(input);
    const at = this.now();
    if (decision.kind === 'noop') {
      this.logger.info(decision.message, { service });
      const live = effectiveLive(input.current, input.health);
      return {
        result: {
          service,
          changed: false,
          message: decision.message,
          warnings: [],
          state: input.current,
          expect: live ? { live, ...(input.current?.weights ? { weights: input.current.weights } : {}) } : undefined,
          at,
        },
        index: modifyIndex,
      };
    }
    for (const w of decision.warnings) this.logger.warn(w, { service });
    const written = await this.store.commit(service, cas, decision.state, decision.entry);
    for (const w of written.warnings) this.logger.warn(w, { service });
    this.logger.info(
      `${decision.message} (by ${decision.entry.by}${decision.entry.reason ? `, reason: ${decision.entry.reason}` : ''})`,
      { service, action: decision.entry.action, from: decision.entry.from, to: decision.entry.to },
    );
    return {
      result: {
        service,
        changed: true,
        message: decision.message,
        warnings: [...decision.warnings, ...written.warnings],
        state: decision.state,
        expect: {
          live: decision.state.live,
          ...(decision.state.weights ? { weights: decision.state.weights } : {}),
        },
        at,
      },
      index: written.modifyIndex,
    };
  }
}
