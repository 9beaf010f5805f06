import { z } from 'zod';
import { COLOR_PATTERN, COLOR_RULE } from './color.js';
import { errorMessage } from '../errors.js';

/**
 * The blue-green state of one service, as it lives in Consul KV at
 * `<kv-prefix>/services/<service>/state` (JSON). Every load balancer reads the same key, so they agree
 * on what is live. Written by `switchyard switch|rollback|canary`, read by the render role.
 */
const color = z.string().regex(COLOR_PATTERN, COLOR_RULE);

export const serviceStateSchema = z.object({
  /** The color that takes the main port's traffic. */
  live: color,
  /** The color live before the last switch: what `rollback` returns to. */
  previous: color.optional(),
  /**
   * Canary split of the main port's traffic, color → weight (0-100, summing to 100). Absent: all
   * traffic goes to `live`.
   */
  weights: z.record(color, z.number().int().min(0).max(100)).optional(),
  /**
   * During a rollout with stickiness: the token of its cookie (`<cookie>=<color>~<token>`). Clients
   * sent to the canary get the cookie; only this token pins them, so after the rollout ends no
   * cookie pins anyone.
   */
  sticky: z
    .string()
    .regex(/^[a-z0-9]{1,16}$/)
    .optional(),
  updatedAt: z.string().optional(),
  updatedBy: z.string().optional(),
  reason: z.string().optional(),
});
export type ServiceState = z.infer<typeof serviceStateSchema>;

/** One entry of `<kv-prefix>/services/<service>/history` (a JSON array, newest last, bounded). */
export const historyEntrySchema = z.object({
  at: z.string(),
  by: z.string(),
  action: z.enum([
    'switch',
    'rollback',
    'canary',
    'canary-abort',
    'auto',
    // A daemon-run rollout (src/rollout/): its start, steps, failing checks and how it ended.
    'rollout-start',
    'rollout-step',
    'rollout-check',
    'rollout-wait',
    'rollout-pause',
    'rollout-resume',
    'rollout-promote',
    'rollout-complete',
    'rollout-abort',
  ]),
  from: color.optional(),
  to: color,
  weights: z.record(color, z.number()).optional(),
  reason: z.string().optional(),
});
export type HistoryEntry = z.infer<typeof historyEntrySchema>;
export const HISTORY_LIMIT = 50;

/**
 * What a render host reports after a config went live, at `<kv-prefix>/renderers/<node>`:
 * `switch --wait` reads these to know every load balancer serves the new color.
 */
export const rendererReportSchema = z.object({
  node: z.string(),
  at: z.string(),
  /** service → the live color and weights the installed config serves. */
  services: z.record(
    z.string(),
    z.object({ live: z.string().optional(), weights: z.record(z.string(), z.number()).optional() }),
  ),
});
export type RendererReport = z.infer<typeof rendererReportSchema>;

export const stateKey = (prefix: string, service: string): string => `${trimSlashes(prefix)}/services/${service}/state`;
export const historyKey = (prefix: string, service: string): string =>
  `${trimSlashes(prefix)}/services/${service}/history`;
export const rendererKey = (prefix: string, node: string): string => `${trimSlashes(prefix)}/renderers/${node}`;
export const servicesPrefix = (prefix: string): string => `${trimSlashes(prefix)}/services/`;

function trimSlashes(p: string): string {
  return p.replace(/^\/+|\/+$/g, '');
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** Parses a state value read from KV; a bad value is reported, never thrown, so the last good state can stand. */
export function parseServiceState(raw: string): ParseResult<ServiceState> {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    return { ok: false, error: `not JSON (${errorMessage(err)})` };
  }
  const r = serviceStateSchema.safeParse(json);
  if (!r.success) return { ok: false, error: z.prettifyError(r.error).replace(/\n/g, '; ') };
  const w = r.data.weights;
  if (w) {
    const sum = Object.values(w).reduce((a, b) => a + b, 0);
    if (sum !== 100) return { ok: false, error: `weights must sum to 100, got ${sum}` };
  }
  return { ok: true, value: r.data };
}
