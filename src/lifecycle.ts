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
