import { SwitchRefusedError } from '../errors.js';
import { decideCanary, decideSwitch, effectiveLive, type DecisionInput } from '../switch/decisions.js';
import type { ColorHealth } from '../switch/instance-health.js';
import { passingOf } from '../switch/instance-health.js';
import type { HistoryEntry, ServiceState } from '../domain/service-state.js';
import { judge } from './gate.js';
import { CHECKS_LIMIT, isActive, type Check, type Phase, type RolloutPlan } from './plan.js';
import { colorWindow, type TrafficTotals } from '../domain/traffic.js';

/**
 * The rollout state machine, pure: from a plan, the time, the service's state and health and the
 * traffic counters to the next plan, the service-state change to write (if any), the history
 * entries and when to look again. The executor (executor.ts) only reads and writes.
 *
 * Crash safety comes from the order the executor writes in and from reading the state as it is:
 * a step is first recorded in the plan (`step`), then written to the service state, then marked
 * `applied`. A daemon taking over finds one of those stages and carries on from it.
 */
export interface TickInput {
  plan: RolloutPlan;
  now: Date;
  /** The service's stored blue-green state. */
  state: ServiceState | undefined;
  health: ReadonlyMap<string, ColorHealth>;
  /** Every render host's counters for this service; undefined when none could be read. */
  traffic: TrafficTotals | undefined;
  /** Who acts: `rollout@<node>`. */
  by: string;
}

export interface TickResult {
  /** The plan to store; the same object when nothing changed. */
  plan: RolloutPlan;
  /** A service-state write, made before the plan when `stateFirst`, else after it. */
  change?: { state: ServiceState; entry: HistoryEntry };
  /** Entries beyond the change's own. */
  entries: HistoryEntry[];
  /** Look again at this time (ms since the epoch) at the latest; a plan change wakes earlier. */
  wakeAt: number;
  /** One line per decision, for the log. */
  log: string[];
}

const FAR = Number.MAX_SAFE_INTEGER;

/** The weights the service state holds while `step` is applied (-1: none, before the first step). */
export function stepWeights(plan: RolloutPlan, step: number): Record<string, number> | undefined {
  if (step < 0) return undefined;
  const p = plan.steps[step]!;
  if (p >= 100) return undefined;
  return { [plan.stable]: 100 - p, [plan.color]: p };
}

function sameWeights(a: Record<string, number> | undefined, b: Record<string, number> | undefined): boolean {
  const norm = (w: Record<string, number> | undefined) =>
    JSON.stringify(
      Object.entries(w ?? {})
        .filter(([, v]) => v > 0)
        .sort(),
    );
  return norm(a) === norm(b);
}

export function tick(input: TickInput): TickResult {
  const { now, state, health, by } = input;
  let plan = input.plan;
  const at = now.toISOString();
  const nowMs = now.getTime();
  const entries: HistoryEntry[] = [];
  const log: string[] = [];
  const s = plan.service;
  const label = (i: number) => `step ${i + 1} of ${plan.steps.length} (${plan.steps[i]}% to ${plan.color})`;
  const update = (p: Partial<RolloutPlan>) => (plan = { ...plan, ...p, updatedAt: at, executor: by });
  const entry = (action: HistoryEntry['action'], reason: string, extra: Partial<HistoryEntry> = {}): HistoryEntry => ({
    at,
    by,
    action,
    from: plan.stable,
    to: plan.color,
    reason,
    ...extra,
  });
  const end = (phase: Phase, outcome: string): void => {
    update({ phase, outcome, endedAt: at });
    delete plan.request;
    log.push(`${s}: rollout of ${plan.color} ${phase}: ${outcome}`);
  };
  const decision = (reason: string): DecisionInput => ({
    service: s,
    current: state,
    health,
    minPassing: plan.minPassing,
    force: false,
    by,
    at,
    reason,
  });
  const idle = (): TickResult => ({ plan, entries, wakeAt: FAR, log });

  if (!isActive(plan.phase)) return idle();

  // 1. The state as it is: someone else's switch, rollback or canary ends the rollout, leaving it.
  const live = effectiveLive(state, health);
  if (live === plan.color && !state?.weights) {
    end('completed', `${plan.color} is live`);
    entries.push(
      entry('rollout-complete', `${plan.color} became live (changed outside the rollout, or before a takeover)`),
    );
    return { ...idle(), entries };
  }
  if (live !== plan.stable) {
    const why = `the live color of ${s} changed to ${live ?? '(none)'} outside the rollout; it stops and leaves that in place`;
    end('aborted', why);
    entries.push(entry('rollout-abort', why));
    return { ...idle(), entries };
  }
  const weights = state?.weights;
  if (
    plan.applied >= 0 &&
    !sameWeights(weights, stepWeights(plan, plan.applied)) &&
    !sameWeights(weights, stepWeights(plan, plan.step))
  ) {
    const now = weights
      ? Object.entries(weights)
          .map(([c, w]) => `${c}=${w}%`)
          .join(' ')
      : `all on ${live}`;
    const why = `the weights of ${s} were changed outside the rollout (now ${now}); it stops and leaves them in place`;
    end('aborted', why);
    entries.push(entry('rollout-abort', why));
    return { ...idle(), entries };
  }

  // 2. An operator's request.
  const req = plan.request;
  if (req) {
    const who = `${req.by}${req.reason ? `: ${req.reason}` : ''}`;
    delete plan.request;
    update({});
    if (req.action === 'abort') return abort(`aborted by ${who}`);
    if (req.action === 'promote') {
      try {
        const d = decideSwitch(decision(`promoted by ${who}`), plan.color);
        end('promoted', `promoted by ${who}`);
        if (d.kind === 'change')
          return {
            plan,
            change: { state: d.state, entry: { ...d.entry, action: 'rollout-promote' } },
            entries,
            wakeAt: FAR,
            log,
          };
        entries.push(entry('rollout-promote', `promoted by ${who}`));
        return { ...idle(), entries };
      } catch (err) {
        if (!(err instanceof SwitchRefusedError)) throw err;
        const why = `promote by ${req.by} refused: ${err.message}`;
        entries.push(entry('rollout-promote', why));
        log.push(`${s}: ${why}`);
      }
    } else if (req.action === 'pause' && plan.phase === 'running') {
      update({ phase: 'paused' });
      entries.push(entry('rollout-pause', `paused at ${label(plan.step)} by ${who}`));
      log.push(`${s}: rollout paused by ${req.by}`);
    } else if (req.action === 'resume' && plan.phase === 'paused') {
      // The window starts afresh: what happened while paused is not judged.
      update({ phase: 'running', nextCheckAt: nowMs + plan.intervalMs, failures: 0, ...baseline() });
      entries.push(entry('rollout-resume', `resumed at ${label(plan.step)} by ${who}`));
      log.push(`${s}: rollout resumed by ${req.by}`);
    }
  }

  // 3. The canary color must keep enough passing instances the whole time.
  const passing = passingOf(health, plan.color);
  if (passing < Math.max(1, plan.minPassing))
    return abort(
      `${plan.color} has ${passing} passing instances of ${s}, need at least ${Math.max(1, plan.minPassing)}`,
    );

  // 4. Bring the service state to the step the plan is at.
  if (plan.applied < plan.step) {
    const percent = plan.steps[plan.step]!;
    const reason =
      plan.step === 0
        ? `rollout started by ${plan.createdBy}${plan.reason ? ` (${plan.reason})` : ''}: ${label(0)}`
        : `${label(plan.step)}${lastPass()}`;
    let d;
    try {
      d = decideCanary(decision(reason), plan.color, percent);
    } catch (err) {
      if (!(err instanceof SwitchRefusedError)) throw err;
      return abort(err.message);
    }
    if (plan.step === 0 && plan.applied < 0 && !plan.checks.length)
      entries.push(
        entry(
          'rollout-start',
          `${plan.createdBy} started a rollout of ${plan.color}: steps ${plan.steps.join(',')}% every ${plan.intervalMs / 1000}s`,
        ),
      );
    const complete = percent >= 100;
    update({ applied: plan.step, nextCheckAt: nowMs + plan.intervalMs, failures: 0, waitNoted: false, ...baseline() });
    if (complete) end('completed', `${plan.color} is live after ${plan.steps.length} steps`);
    log.push(`${s}: ${d.message}`);
    if (d.kind === 'noop') return { plan, entries, wakeAt: complete ? FAR : plan.nextCheckAt, log };
    const state2 = plan.sticky && d.state.weights ? { ...d.state, sticky: stickyToken(plan) } : d.state;
    return {
      plan,
      change: { state: state2, entry: { ...d.entry, action: complete ? 'rollout-complete' : 'rollout-step' } },
      entries,
      wakeAt: complete ? FAR : plan.nextCheckAt,
      log,
    };
  }

  if (plan.phase === 'paused') return { plan, entries, wakeAt: FAR, log };

  // 5. The gate check.
  if (nowMs < plan.nextCheckAt) return { plan, entries, wakeAt: plan.nextCheckAt, log };
  const traffic = input.traffic ?? {};
  const canary = colorWindow(traffic, plan.baseline, plan.color);
  const stable = colorWindow(traffic, plan.baseline, plan.stable);
  const v = judge(plan.gate, plan.color, canary, stable, plan.stable);
  const window = (w: typeof canary) => ({
    requests: w.requests,
    errors: w.errors,
    ...(w.successRate !== undefined ? { successRate: Math.round(w.successRate * 100) / 100 } : {}),
    ...(w.latencyMs !== undefined ? { latencyMs: w.latencyMs } : {}),
    ...(w.latencyKind ? { latencyKind: w.latencyKind } : {}),
  });
  const check: Check = {
    at,
    step: plan.step,
    percent: plan.steps[plan.step]!,
    canary: window(canary),
    stable: window(stable),
    verdict: v.verdict,
    why: v.why,
  };
  const checks = [...plan.checks, check].slice(-CHECKS_LIMIT);
  const next = nowMs + plan.intervalMs;
  if (v.verdict === 'wait') {
    // The window keeps growing until there is enough to judge: no new baseline.
    if (!plan.waitNoted) entries.push(entry('rollout-wait', `${label(plan.step)}: ${v.why}`));
    update({ checks, nextCheckAt: next, waitNoted: true });
    log.push(`${s}: ${v.why}`);
    return { plan, entries, wakeAt: next, log };
  }
  if (v.verdict === 'fail') {
    const failures = plan.failures + 1;
    update({ checks, failures, nextCheckAt: next, ...baseline() });
    const why = `check failed (${failures} of ${plan.gate.maxFailures} allowed in a row) at ${label(plan.step)}: ${v.why}`;
    log.push(`${s}: ${why}`);
    if (failures >= plan.gate.maxFailures) return abort(why);
    entries.push(entry('rollout-check', why));
    return { plan, entries, wakeAt: next, log };
  }
  update({ checks, failures: 0, ...baseline() });
  log.push(`${s}: check passed at ${label(plan.step)}: ${v.why}`);
  if (plan.step + 1 < plan.steps.length) {
    // Recorded first, applied on the next tick (at once): see the comment at the top.
    update({ step: plan.step + 1 });
    return { plan, entries, wakeAt: nowMs, log };
  }
  // The last step below 100 passed: the canary takes everything.
  let d;
  try {
    d = decideCanary(decision(`all ${plan.steps.length} steps passed${lastPass()}`), plan.color, 100);
  } catch (err) {
    if (!(err instanceof SwitchRefusedError)) throw err;
    return abort(err.message);
  }
  end('completed', `${plan.color} is live after ${plan.steps.length} steps`);
  if (d.kind === 'noop') return { plan, entries, wakeAt: FAR, log };
  return {
    plan,
    change: { state: d.state, entry: { ...d.entry, action: 'rollout-complete' } },
    entries,
    wakeAt: FAR,
    log,
  };

  function baseline(): Partial<RolloutPlan> {
    return input.traffic ? { baseline: input.traffic } : {};
  }
  function lastPass(): string {
    const c = plan.checks[plan.checks.length - 1];
    return c?.verdict === 'pass' ? ` after a passing check (${c.why})` : '';
  }
  function abort(why: string): TickResult {
    end('aborted', why);
    const restored: ServiceState = {
      live: plan.stable,
      ...(state?.previous ? { previous: state.previous } : {}),
      updatedAt: at,
      updatedBy: by,
      reason: `rollout aborted: ${why}`,
    };
    return {
      plan,
      change: {
        state: restored,
        entry: { at, by, action: 'rollout-abort', from: plan.color, to: plan.stable, reason: why },
      },
      entries,
      wakeAt: FAR,
      log,
    };
  }
}

/** The token in the sticky cookie's value (`<color>~<token>`): only this rollout's cookie pins. */
export function stickyToken(plan: RolloutPlan): string {
  return (
    plan.id
      .replace(/^.*-/, '')
      .replace(/[^a-z0-9]/g, '')
      .slice(0, 16) || 'r'
  );
}
