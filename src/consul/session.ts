import { errorMessage } from '../errors.js';
import { once, type Lifecycle } from '../lifecycle.js';
import { backoffMs } from '../time/backoff.js';
import { sleep } from '../time/sleep.js';
import type { Logger } from '../log/logger.js';
import type { ConsulClient } from './consul-client.js';

/**
 * One Consul session kept alive for this process's locks: created when Consul answers, renewed at a
 * third of its TTL, and re-created when Consul forgets it (its locks are then released by Consul,
 * and after the lock-delay another process may take them). `id` is undefined while there is none.
 * close() destroys it, so a clean stop hands locks over without waiting for the TTL.
 */
export interface ConsulSessionOptions {
  consul: ConsulClient;
  name: string;
  ttlMs: number;
  lockDelayMs: number;
  logger: Logger;
  /** Called when a session this process held is gone: every lock it held is lost. */
  onLost?: (id: string) => void;
}

export class ConsulSession implements Lifecycle {
  private current: string | undefined;
  private readonly stop = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly log: Logger;
  private readyWaiters: (() => void)[] = [];

  constructor(private readonly options: ConsulSessionOptions) {
    this.log = options.logger.child({ component: 'session' });
  }

  get id(): string | undefined {
    return this.current;
  }

  start(): Promise<void> {
    this.loop ??= this.run();
    return Promise.resolve();
  }

  /** Resolves once a session exists (or the session is closed). */
  ready(): Promise<void> {
    if (this.current || this.stop.signal.aborted) return Promise.resolve();
    return new Promise((r) => this.readyWaiters.push(r));
  }

  readonly close = once(async (): Promise<void> => {
    this.stop.abort();
    for (const r of this.readyWaiters.splice(0)) r();
    await this.loop;
    const id = this.current;
    this.current = undefined;
    if (id)
      await this.options.consul.sessionDestroy(id).catch((err: unknown) => {
        this.log.warn(`could not destroy Consul session ${id}: ${errorMessage(err)}; it ends with its TTL`);
      });
  });

  private async run(): Promise<void> {
    const { consul, ttlMs } = this.options;
    let failures = 0;
    while (!this.stop.signal.aborted) {
      try {
        if (!this.current) {
          this.current = await consul.sessionCreate({
            name: this.options.name,
            ttlMs: this.options.ttlMs,
            lockDelayMs: this.options.lockDelayMs,
          });
          this.log.info(`Consul session ${this.current} created (${this.options.name})`);
          for (const r of this.readyWaiters.splice(0)) r();
        } else if (!(await consul.sessionRenew(this.current))) {
          const lost = this.current;
          this.current = undefined;
          this.log.warn(`Consul session ${lost} expired; its locks are released — creating a new one`);
          this.options.onLost?.(lost);
          continue;
        }
        failures = 0;
        await sleep(Math.max(1000, ttlMs / 3), this.stop.signal);
      } catch (err) {
        if (this.stop.signal.aborted) return;
        failures += 1;
        // Once per outage as a warning, the retries at debug level.
        const line = `Consul session (${this.options.name}): ${errorMessage(err)}; retrying`;
        if (failures === 1) this.log.warn(line);
        else this.log.debug(line);
        await sleep(backoffMs(failures, 250, 5000), this.stop.signal);
      }
    }
  }
}
