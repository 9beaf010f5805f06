import type { Check, Gate } from './plan.js';
import type { ColorWindow } from '../domain/traffic.js';

/**
 * The metric gate of one check, pure: the canary's window against the thresholds, with the stable
 * color's window beside it for comparison. Too little canary traffic is a wait, never a pass.
 */
export interface GateVerdict {
  verdict: Check['verdict'];
  why: string;
}

const pct = (n: number | undefined): string => (n === undefined ? 'n/a' : `${n.toFixed(2).replace(/\.?0+$/, '')}%`);
const ms = (w: ColorWindow): string =>
  w.latencyMs === undefined ? 'n/a' : `${w.latencyMs} ms${w.latencyKind === 'avg' ? ' (HAProxy average)' : ''}`;
const latencyName = (w: ColorWindow): string => (w.latencyKind === 'avg' ? 'average response time' : 'p99');

export function judge(
  gate: Gate,
  color: string,
  canary: ColorWindow,
  stable: ColorWindow,
  stableColor: string,
): GateVerdict {
  const compare = `${stableColor}: ${pct(stable.successRate)} success, ${ms(stable)} over ${stable.requests} requests`;
  if (canary.hosts === 0)
    return { verdict: 'wait', why: `no render host reports traffic for ${color} yet; waiting (${compare})` };
  if (canary.requests < gate.minRequests)
    return {
      verdict: 'wait',
      why: `only ${canary.requests} requests reached ${color} since the last check, need ${gate.minRequests} to judge; waiting`,
    };
  const failures: string[] = [];
  if (canary.successRate !== undefined && canary.successRate < gate.minSuccessRate)
    failures.push(
      `success rate of ${color} ${pct(canary.successRate)} < ${pct(gate.minSuccessRate)} (${canary.errors} of ${canary.requests} answers were 5xx)`,
    );
  if (
    gate.maxSuccessDrop !== undefined &&
    canary.successRate !== undefined &&
    stable.successRate !== undefined &&
    stable.requests >= gate.minRequests &&
    stable.successRate - canary.successRate > gate.maxSuccessDrop
  )
    failures.push(
      `success rate of ${color} ${pct(canary.successRate)} is ${pct(stable.successRate - canary.successRate).replace('%', '')} points below ${stableColor}'s ${pct(stable.successRate)} (at most ${gate.maxSuccessDrop} allowed)`,
    );
  if (canary.latencyMs !== undefined && canary.latencyMs > gate.maxLatencyMs)
    failures.push(`${latencyName(canary)} of ${color} ${canary.latencyMs} ms > ${gate.maxLatencyMs} ms`);
  const own = `${color}: ${pct(canary.successRate)} success, ${ms(canary)} over ${canary.requests} requests`;
  if (failures.length > 0) return { verdict: 'fail', why: `${failures.join('; ')} [${own}; ${compare}]` };
  return { verdict: 'pass', why: `${own}; ${compare}` };
}
