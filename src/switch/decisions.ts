import { SwitchRefusedError } from '../errors.js';
import type { ColorHealth } from './instance-health.js';
import { passingByColor, passingOf } from './instance-health.js';
import type { HistoryEntry, ServiceState } from '../domain/service-state.js';
import { idleColor, liveColor } from '../snapshot/live-color.js';

/**
 * The pure half of switch / rollback / canary: from the stored state and the instances' health to
 * the next state and its history entry, or a refusal that says why. No I/O here; the store writes
 * what these return.
 */
export interface DecisionInput {
  service: string;
  /** The state stored in KV; undefined when none is stored (or it is unreadable). */
  current: ServiceState | undefined;
  health: ReadonlyMap<string, ColorHealth>;
  /** Fewest passing instances the color that is to take traffic must have. */
  minPassing: number;
  force: boolean;
  /** `user@host` or `--by`. */
  by: string;
  /** ISO timestamp. */
  at: string;
  reason?: string;
}

export type Decision =
  | { kind: 'noop'; message: string }
  | { kind: 'change'; state: ServiceState; entry: HistoryEntry; message: string; warnings: string[] };

/** The live color (snapshot/live-color.ts's rule) from the instances' health by color. */
export function effectiveLive(current: ServiceState | undefined, health: ReadonlyMap<string, ColorHealth>) {
  return liveColor(current, passingByColor(health));
}

/** The idle color (snapshot/live-color.ts's rule): the same one the snapshot gives templates. */
export function effectiveIdle(
  current: ServiceState | undefined,
  health: ReadonlyMap<string, ColorHealth>,
): string | undefined {
  return idleColor(effectiveLive(current, health), current, health.keys());
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Refuses (or, with force, warns) when `color` has fewer passing instances than required. */
function gate(input: DecisionInput, color: string, warnings: string[]): void {
  const passing = passingOf(input.health, color);
  if (passing >= input.minPassing) return;
  const why = `${color} has ${plural(passing, 'passing instance')} of ${input.service}, need at least ${input.minPassing}`;
  if (!input.force) throw new SwitchRefusedError(`${why} (use --force to override)`);
  warnings.push(`${why}; going ahead because of --force`);
}

function stamp(input: DecisionInput): Pick<ServiceState, 'updatedAt' | 'updatedBy' | 'reason'> {
  return { updatedAt: input.at, updatedBy: input.by, ...(input.reason ? { reason: input.reason } : {}) };
}

function entryBase(input: DecisionInput): Pick<HistoryEntry, 'at' | 'by' | 'reason'> {
  return { at: input.at, by: input.by, ...(input.reason ? { reason: input.reason } : {}) };
}

export function decideSwitch(input: DecisionInput, target: string): Decision {
  const live = effectiveLive(input.current, input.health);
  const weights = input.current?.weights;
  if (live === target && !weights)
    return { kind: 'noop', message: `${target} is already live for ${input.service}; nothing to do` };
  const warnings: string[] = [];
  gate(input, target, warnings);
  // Switching to the live color during a canary ends the canary: everything back on live.
  const previous = live === target ? input.current?.previous : live;
  const state: ServiceState = { live: target, ...(previous ? { previous } : {}), ...stamp(input) };
  const entry: HistoryEntry = {
    ...entryBase(input),
    action: 'switch',
    ...(live ? { from: live } : {}),
    to: target,
  };
  const message =
    live === target
      ? `${input.service}: canary ended, all traffic on ${target}`
      : `${input.service}: live ${live ?? '(none)'} → ${target}`;
  return { kind: 'change', state, entry, message, warnings };
}

/**
 * Undoes the last change: during a canary, all traffic goes back to the live color; otherwise the
 * previous live color becomes live again (gated like a switch).
 */
export function decideRollback(input: DecisionInput): Decision {
  const current = input.current;
  if (current?.weights) {
    const state: ServiceState = {
      live: current.live,
      ...(current.previous ? { previous: current.previous } : {}),
      ...stamp(input),
    };
    const canary = Object.keys(current.weights).find((c) => c !== current.live);
    return {
      kind: 'change',
      state,
      entry: { ...entryBase(input), action: 'rollback', ...(canary ? { from: canary } : {}), to: current.live },
      message: `${input.service}: canary stopped, all traffic back on ${current.live}`,
      warnings: [],
    };
  }
  if (!current?.previous)
    throw new SwitchRefusedError(`${input.service} has no previous live color to roll back to (it was never switched)`);
  const target = current.previous;
  const warnings: string[] = [];
  gate(input, target, warnings);
  const state: ServiceState = { live: target, previous: current.live, ...stamp(input) };
  return {
    kind: 'change',
    state,
    entry: { ...entryBase(input), action: 'rollback', from: current.live, to: target },
    message: `${input.service}: rolled back, live ${current.live} → ${target}`,
    warnings,
  };
}

/**
 * One canary step: `percent` of the main port's traffic to `color`, the rest to the live color.
 * 0 ends the canary with everything on live; 100 completes it (color becomes live, like a switch).
 */
export function decideCanary(input: DecisionInput, color: string, percent: number): Decision {
  if (!Number.isInteger(percent) || percent < 0 || percent > 100)
    throw new SwitchRefusedError(`canary percent must be a whole number from 0 to 100, got ${percent}`);
  const live = effectiveLive(input.current, input.health);
  if (!live)
    throw new SwitchRefusedError(
      `${input.service} has no live color yet (no color has a passing instance); use "switchyard switch" first`,
    );
  if (color === live)
    throw new SwitchRefusedError(
      `${color} is already live for ${input.service}; a canary sends traffic to the other color`,
    );
  const warnings: string[] = [];
  const previous = input.current?.previous;
  if (percent === 0) {
    if (!input.current?.weights)
      return { kind: 'noop', message: `${input.service} has no canary running; nothing to do` };
    return {
      kind: 'change',
      state: { live, ...(previous ? { previous } : {}), ...stamp(input) },
      entry: { ...entryBase(input), action: 'canary', from: live, to: color, weights: { [live]: 100, [color]: 0 } },
      message: `${input.service}: canary of ${color} set to 0%, all traffic on ${live}`,
      warnings,
    };
  }
  gate(input, color, warnings);
  if (percent === 100) {
    return {
      kind: 'change',
      state: { live: color, previous: live, ...stamp(input) },
      entry: { ...entryBase(input), action: 'canary', from: live, to: color, weights: { [color]: 100 } },
      message: `${input.service}: canary complete, live ${live} → ${color}`,
      warnings,
    };
  }
  const weights = { [live]: 100 - percent, [color]: percent };
  const same = input.current?.weights;
  if (same && same[live] === weights[live] && same[color] === weights[color])
    return { kind: 'noop', message: `${input.service} already sends ${percent}% to ${color}; nothing to do` };
  return {
    kind: 'change',
    state: { live, ...(previous ? { previous } : {}), weights, ...stamp(input) },
    entry: { ...entryBase(input), action: 'canary', from: live, to: color, weights },
    message: `${input.service}: ${percent}% of traffic to ${color}, ${100 - percent}% to ${live}`,
    warnings,
  };
}
