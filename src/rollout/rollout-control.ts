import type { ConsulClient } from '../consul/consul-client.js';
import { StateConflictError, SwitchRefusedError, errorMessage } from '../errors.js';
import { sleep } from '../time/sleep.js';
import { decideCanary, effectiveLive } from '../switch/decisions.js';
import { DEFAULT_COLOR_TAGS, healthByColor } from '../switch/instance-health.js';
import { SwitchStateStore } from '../switch/state-store.js';
import { stepWeights } from './machine.js';
import { isActive, newPlan, type Gate, type RolloutPlan, type RolloutRequest } from './plan.js';
import { RolloutStore } from './rollout-store.js';

/**
 * What the CLI does with rollouts: write a new plan (refused while one runs), store an operator's
 * request, read and follow a plan. The daemon's executor does the rest.
 */
export interface StartRollout {
  service: string;
  color: string;
  steps: number[];
  intervalMs: number;
  gate: Gate;
  sticky: boolean;
  minPassing: number;
  force: boolean;
  by: string;
  reason?: string;
}

export class RolloutControl {
  readonly store: RolloutStore;
  private readonly states: SwitchStateStore;

  constructor(
    private readonly consul: ConsulClient,
    kvPrefix: string,
    private readonly colorTags: readonly string[] = DEFAULT_COLOR_TAGS,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.store = new RolloutStore(consul, kvPrefix);
    this.states = new SwitchStateStore(consul, kvPrefix);
  }

  async start(r: StartRollout): Promise<RolloutPlan> {
    const [existing, state, health] = await Promise.all([
      this.store.read(r.service),
      this.states.readState(r.service),
      this.consul.healthService(r.service),
    ]);
    if (existing.plan && isActive(existing.plan.phase))
      throw new SwitchRefusedError(
        `a rollout of ${existing.plan.color} is already ${existing.plan.phase} for ${r.service} (started by ${existing.plan.createdBy}); use "switchyard rollout abort" or "promote" first`,
      );
    if (state.state?.weights)
      throw new SwitchRefusedError(
        `${r.service} already has a canary split (${Object.entries(state.state.weights)
          .map(([c, w]) => `${c}=${w}%`)
          .join(' ')}); end it with "switchyard rollback" or "switchyard switch" first`,
      );
    const byColor = healthByColor(health.value, this.colorTags);
    // The same checks as a one-step canary (a live color exists, the color is not it, enough passing
    // instances), so the daemon will not refuse the first step.
    decideCanary(
      {
        service: r.service,
        current: state.state,
        health: byColor,
        minPassing: r.minPassing,
        force: r.force,
        by: r.by,
        at: this.now().toISOString(),
      },
      r.color,
      r.steps[0]!,
    );
    const stable = effectiveLive(state.state, byColor)!;
    const plan = newPlan({ ...r, stable, now: this.now() });
    if (!(await this.store.write(plan, existing.modifyIndex)))
      throw new StateConflictError(
        `another rollout plan for ${r.service} was written at the same time; check "switchyard rollout status"`,
      );
    return plan;
  }

  request(service: string, action: RolloutRequest['action'], by: string, reason?: string): Promise<RolloutPlan> {
    return this.store.request(service, { action, by, at: this.now().toISOString(), ...(reason ? { reason } : {}) });
  }

  /**
   * Calls `onChange` with every new version of the plan until it ends (or the signal aborts);
   * resolves with the last one seen.
   */
  async follow(
    service: string,
    onChange: (plan: RolloutPlan) => void,
    signal?: AbortSignal,
    onError?: (message: string) => void,
  ): Promise<RolloutPlan | undefined> {
    let index = 0;
    let last: RolloutPlan | undefined;
    let lastText = '';
    while (!signal?.aborted) {
      try {
        const { index: next, stored } = await this.store.watch(service, {
          ...(index > 0 ? { index, waitMs: 30_000 } : {}),
          ...(signal ? { signal } : {}),
        });
        index = next < index ? 0 : next;
        if (stored.plan) {
          const text = JSON.stringify(stored.plan);
          if (text !== lastText) onChange(stored.plan);
          lastText = text;
          last = stored.plan;
          if (!isActive(stored.plan.phase)) return last;
        }
      } catch (err) {
        if (signal?.aborted) break;
        onError?.(errorMessage(err));
        await sleep(1000, signal);
      }
    }
    return last;
  }
}

/** One line for the plan's current position, as `rollout status` and `--follow` print it. */
export function describePlan(plan: RolloutPlan): string {
  const where =
    plan.step >= 0
      ? `step ${plan.step + 1} of ${plan.steps.length} (${plan.steps[plan.step]}% to ${plan.color})`
      : 'not started';
  const w = stepWeights(plan, plan.applied);
  const weights = w
    ? Object.entries(w)
        .map(([c, p]) => `${c}=${p}%`)
        .join(' ')
    : undefined;
  const last = plan.checks[plan.checks.length - 1];
  const parts = [
    `${plan.service}: rollout of ${plan.color} (stable ${plan.stable}) ${plan.phase}`,
    isActive(plan.phase) ? where : undefined,
    weights && isActive(plan.phase) ? `weights ${weights}` : undefined,
    plan.failures > 0 ? `${plan.failures} failing check(s) in a row of ${plan.gate.maxFailures}` : undefined,
    last && isActive(plan.phase) ? `last check ${last.verdict}: ${last.why}` : undefined,
    plan.request ? `${plan.request.action} requested by ${plan.request.by}` : undefined,
    plan.outcome && !isActive(plan.phase) ? plan.outcome : undefined,
  ];
  return parts.filter((p) => p !== undefined).join(' · ');
}
