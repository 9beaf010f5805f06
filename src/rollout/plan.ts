import { z } from 'zod';
import { COLOR_PATTERN } from '../domain/color.js';
import type { ParseResult } from '../domain/service-state.js';
import { colorCountersSchema } from '../domain/traffic.js';

/**
 * A rollout plan and its progress, one JSON value at `<kv-prefix>/rollouts/<service>/plan`.
 * `switchyard canary --steps` writes it; the daemon that holds `<kv-prefix>/rollouts/<service>/lock`
 * (a Consul session lock) executes it and records its progress in the same value, so a daemon that
 * takes over continues from the step reached. Operators' pause/resume/promote/abort are requests in
 * `request`, carried out by the executor: it is the plan's only writer of progress.
 */
const color = z.string().regex(COLOR_PATTERN, 'a color is 1-32 of a-z, 0-9, _ and -, starting with a letter or digit');

export const gateSchema = z.object({
  /** Percent of the canary's answers that must not be 5xx (Flagger's default: 99). */
  minSuccessRate: z.number().min(0).max(100),
  /** The canary's p99 (nginx) or average (HAProxy) response time must stay at or under this. */
  maxLatencyMs: z.number().int().min(1),
  /** Failing checks in a row that abort the rollout (Flagger's default: 5). */
  maxFailures: z.number().int().min(1),
  /** Fewest canary requests a check needs to judge; with fewer, the step waits. */
  minRequests: z.number().int().min(1),
  /**
   * Against the stable color over the same window: the canary's success rate may be at most this
   * many percentage points below the stable color's. Unset: only the absolute threshold.
   */
  maxSuccessDrop: z.number().min(0).max(100).optional(),
});
export type Gate = z.infer<typeof gateSchema>;

export const DEFAULT_GATE: Gate = Object.freeze({
  minSuccessRate: 99,
  maxLatencyMs: 500,
  maxFailures: 5,
  minRequests: 20,
});

export const windowSchema = z.object({
  requests: z.number(),
  errors: z.number(),
  successRate: z.number().optional(),
  latencyMs: z.number().optional(),
  latencyKind: z.enum(['p99', 'avg']).optional(),
});

/** One gate check: what the canary and the stable color did since the last one, and the verdict. */
export const checkSchema = z.object({
  at: z.string(),
  /** Index into steps. */
  step: z.number().int(),
  percent: z.number(),
  canary: windowSchema,
  stable: windowSchema,
  verdict: z.enum(['pass', 'fail', 'wait']),
  why: z.string(),
});
export type Check = z.infer<typeof checkSchema>;

export const PHASES = ['running', 'paused', 'completed', 'promoted', 'aborted'] as const;
export type Phase = (typeof PHASES)[number];
export const isActive = (phase: Phase): boolean => phase === 'running' || phase === 'paused';

export const requestSchema = z.object({
  action: z.enum(['pause', 'resume', 'promote', 'abort']),
  by: z.string(),
  at: z.string(),
  reason: z.string().optional(),
});
export type RolloutRequest = z.infer<typeof requestSchema>;

export const rolloutPlanSchema = z.object({
  id: z.string(),
  service: z.string(),
  /** The canary color. */
  color,
  /** The live color when the rollout began, and the one an abort returns to. */
  stable: color,
  steps: z.array(z.number().int().min(1).max(100)).min(1),
  intervalMs: z.number().int().min(100),
  gate: gateSchema,
  /** Clients sent to the canary get the color cookie for the rest of the rollout (templates read it). */
  sticky: z.boolean(),
  minPassing: z.number().int().min(0),
  createdAt: z.string(),
  createdBy: z.string(),
  reason: z.string().optional(),

  phase: z.enum(PHASES),
  /** The step the rollout is at (index into steps); -1 before the first. */
  step: z.number().int().min(-1),
  /** The last step whose weights were written to the service state; -1 for none. */
  applied: z.number().int().min(-1),
  /** When the next gate check is due (ms since the epoch); 0: at once. */
  nextCheckAt: z.number(),
  /** Failing checks in a row. */
  failures: z.number().int().min(0),
  /** The traffic counters the next check's window starts from (render host → color → counters). */
  baseline: z.record(z.string(), z.record(z.string(), colorCountersSchema)).optional(),
  /** Newest last, bounded (CHECKS_LIMIT): the page's chart. */
  checks: z.array(checkSchema),
  /** Whether a wait for traffic was recorded for the current step (one history entry per step). */
  waitNoted: z.boolean().optional(),
  request: requestSchema.optional(),
  /** The daemon executing it, as it said when it last wrote. */
  executor: z.string().optional(),
  updatedAt: z.string(),
  endedAt: z.string().optional(),
  /** How it ended, in words (history holds the same). */
  outcome: z.string().optional(),
});
export type RolloutPlan = z.infer<typeof rolloutPlanSchema>;
export const CHECKS_LIMIT = 120;

const trim = (p: string): string => p.replace(/^\/+|\/+$/g, '');
export const rolloutsPrefix = (prefix: string): string => `${trim(prefix)}/rollouts/`;
export const planKey = (prefix: string, service: string): string => `${rolloutsPrefix(prefix)}${service}/plan`;
export const lockKey = (prefix: string, service: string): string => `${rolloutsPrefix(prefix)}${service}/lock`;

export function parsePlan(raw: string): ParseResult<RolloutPlan> {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    return { ok: false, error: `not JSON (${(err as Error).message})` };
  }
  const r = rolloutPlanSchema.safeParse(json);
  if (!r.success) return { ok: false, error: z.prettifyError(r.error).replace(/\n/g, '; ') };
  const p = r.data;
  if (p.color === p.stable) return { ok: false, error: `the canary color and the stable color are both ${p.color}` };
  for (let i = 1; i < p.steps.length; i++)
    if (p.steps[i]! <= p.steps[i - 1]!) return { ok: false, error: `steps must rise, got ${p.steps.join(',')}` };
  if (p.step >= p.steps.length || p.applied > p.step)
    return { ok: false, error: `step ${p.step} / applied ${p.applied} do not fit ${p.steps.length} steps` };
  return { ok: true, value: p };
}

export interface NewPlan {
  service: string;
  color: string;
  stable: string;
  steps: number[];
  intervalMs: number;
  gate: Gate;
  sticky: boolean;
  minPassing: number;
  by: string;
  reason?: string;
  now: Date;
}

export function newPlan(n: NewPlan): RolloutPlan {
  const at = n.now.toISOString();
  return {
    id: `${n.service}-${n.now.getTime().toString(36)}`,
    service: n.service,
    color: n.color,
    stable: n.stable,
    steps: [...n.steps],
    intervalMs: n.intervalMs,
    gate: { ...n.gate },
    sticky: n.sticky,
    minPassing: n.minPassing,
    createdAt: at,
    createdBy: n.by,
    ...(n.reason ? { reason: n.reason } : {}),
    phase: 'running',
    step: 0,
    applied: -1,
    nextCheckAt: 0,
    failures: 0,
    checks: [],
    updatedAt: at,
  };
}
