/**
 * Time as the watch and render loops see it. Production uses the system clock; unit tests pass a
 * fake one they advance by hand, so backoff, rate limits and debounce are tested without sleeping.
 */
export interface TimerHandle {
  readonly id: number;
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}

const handles = new Map<number, NodeJS.Timeout>();
let nextId = 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const id = nextId++;
    const t = setTimeout(() => {
      handles.delete(id);
      fn();
    }, ms);
    handles.set(id, t);
    return { id };
  },
  clearTimeout(handle) {
    if (!handle) return;
    clearTimeout(handles.get(handle.id));
    handles.delete(handle.id);
  },
};

/** Sleeps on `clock`; resolves false at once (and early) when the signal aborts. */
export function clockSleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = () => {
      clock.clearTimeout(handle);
      resolve(false);
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
