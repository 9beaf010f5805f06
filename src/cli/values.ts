import { InvalidArgumentError } from 'commander';
import { formatMs } from '../time/duration.js';
import type { WaitRange } from '../watch/quiescence.js';

/**
 * Parsers for option values. Each throws commander's InvalidArgumentError with a message saying
 * what was expected; the CLI prefixes the option's name and exits with code 2.
 */

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "250ms", "5s", "1.5m", "1h" → milliseconds. A bare number is refused: units avoid 5-vs-5000 mistakes. */
export function parseDuration(value: string): number {
  const m = DURATION.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`expected a duration such as 250ms, 5s, 1m or 1h, got "${value}"`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2]!]!);
}

export function durationParser(min: number, max: number) {
  return (value: string): number => {
    const ms = parseDuration(value);
    if (ms < min || ms > max)
      throw new InvalidArgumentError(
        `expected a duration between ${formatMs(min)} and ${formatMs(max)}, got "${value}"`,
      );
    return ms;
  };
}

/** consul-template's `wait`: "min" or "min:max"; max defaults to 4×min; "0s" disables quiescence. */
export function parseWait(value: string): WaitRange {
  const [a, b, ...rest] = value.split(':');
  if (a === undefined || rest.length > 0)
    throw new InvalidArgumentError(`expected min or min:max durations such as 100ms:1s, got "${value}"`);
  const minMs = parseDuration(a);
  const maxMs = b === undefined ? minMs * 4 : parseDuration(b);
  if (maxMs < minMs) throw new InvalidArgumentError(`max must not be below min, got "${value}"`);
  return { minMs, maxMs };
}

export function intParser(min: number, max: number) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected a whole number, got "${value}"`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`expected a number from ${min} to ${max}, got "${value}"`);
    return n;
  };
}

export const parsePort = intParser(1, 65535);

/** "host:port", "[v6]:port" or just "port" (then on every address). */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value.trim());
  if (m) return { host: m[1] ?? (m[2] || '0.0.0.0'), port: parsePort(m[3]!) };
  if (/^\d+$/.test(value.trim())) return { host: '0.0.0.0', port: parsePort(value) };
  throw new InvalidArgumentError(`expected host:port or port, got "${value}"`);
}

export function choiceParser<T extends string>(choices: readonly T[]) {
  return (value: string): T => {
    if ((choices as readonly string[]).includes(value)) return value as T;
    throw new InvalidArgumentError(`expected one of ${choices.join(', ')}, got "${value}"`);
  };
}

export function parseBool(value: string): boolean {
  const v = value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new InvalidArgumentError(`expected true or false, got "${value}"`);
}

/** "5,25,50,100" → [5, 25, 50, 100]; each 1-100, strictly rising. `canary --steps`. */
export function parseSteps(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  const steps: number[] = [];
  for (const p of parts) {
    if (!/^\d+$/.test(p))
      throw new InvalidArgumentError(`expected comma-separated percentages such as 5,25,50,100, got "${value}"`);
    const n = Number(p);
    if (n < 1 || n > 100) throw new InvalidArgumentError(`each step must be from 1 to 100, got ${n} in "${value}"`);
    if (steps.length > 0 && n <= steps[steps.length - 1]!)
      throw new InvalidArgumentError(`steps must rise, got ${n} after ${steps[steps.length - 1]} in "${value}"`);
    steps.push(n);
  }
  if (steps.length === 0) throw new InvalidArgumentError(`expected at least one step, got "${value}"`);
  return steps;
}
