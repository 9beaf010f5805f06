import { SwitchyardError, errorMessage } from './errors.js';

/** Every long-lived part of the daemon: started once, closed once (close is idempotent and bounded). */
export interface Lifecycle {
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Runs `fn` once and hands every later caller the same promise, so concurrent and repeated
 * close() calls wait for the one shutdown instead of starting another (bullmq's pattern).
 */
export function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= fn());
}

/** Resolves with the promise's value, or rejects after `ms` with a message naming `what`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
        timer.unref();
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs every cleanup step in order, even when one throws, then throws one error naming each step
 * that failed (the first failure as its cause). For close(): a part never leaves later parts open.
 */
export async function closeEach(
  steps: ReadonlyArray<readonly [what: string, close: () => Promise<void>]>,
): Promise<void> {
  const failures: { what: string; err: unknown }[] = [];
  for (const [what, close] of steps) {
    try {
      await close();
    } catch (err) {
      failures.push({ what, err });
    }
  }
  if (failures.length > 0)
    throw new SwitchyardError(failures.map((f) => `closing ${f.what} failed: ${errorMessage(f.err)}`).join('; '), {
      cause: failures[0]!.err,
    });
}
