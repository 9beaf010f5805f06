import PQueue from 'p-queue';
import { formatMs } from '../time/duration.js';
import { CheckerError, ClosedError, ReloadError, TemplateError, errorMessage } from '../errors.js';
import type { Metrics } from '../http/metrics.js';
import { once, withTimeout, type Lifecycle } from '../lifecycle.js';
import type { Logger } from '../log/logger.js';
import type { ApplyOutcome, ProxyDriver } from '../proxy/proxy-driver.js';
import { describeChanges, snapshotsEqual, summarizeChanges } from '../snapshot/snapshot-diff.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import { liveChanges } from '../switch/live-changes.js';
import { systemClock, type Clock, type TimerHandle } from '../time/clock.js';
import { Quiescence, type WaitRange } from '../watch/quiescence.js';
import { templateErrorText } from './template-error.js';
import type { TemplateRenderer } from './template-renderer.js';

/** Tells the cluster which config this host serves (the KV renderer report), after each apply. */
export interface RendererReporter {
  write(snapshot: Snapshot): Promise<void>;
}

export interface RenderPipelineOptions {
  renderer: TemplateRenderer;
  driver: ProxyDriver;
  logger: Logger;
  metrics?: Metrics;
  /** consul-template's wait min:max between a change and the render. */
  wait: WaitRange;
  /** After a failed apply (checker rejection, reload failure), try again this much later even without a change. */
  retryDelayMs?: number;
  reporter?: RendererReporter;
  clock?: Clock;
  /** Bound on waiting for an apply in flight at close(). */
  closeTimeoutMs?: number;
}

/** See DEFAULT_WAIT_TEXT in render-options.ts for why. */
export const DEFAULT_WAIT: WaitRange = { minMs: 250, maxMs: 1000 };
export const DEFAULT_RETRY_DELAY_MS = 5_000;

const ACTION_TEXT: Record<ApplyOutcome['action'], string> = {
  reloaded: 'installed and reloaded',
  runtime: 'changed servers through the Runtime API (no reload) for',
  installed: 'installed (no reload configured)',
  unchanged: 'unchanged:',
};

/**
 * Snapshots → debounce (wait min:max) → render → check, install, reload, one at a time.
 *
 * One p-queue of concurrency 1 runs applies, so two never overlap; changes arriving meanwhile are
 * coalesced into at most one pending apply, which renders the newest snapshot when it runs. A failure
 * (template, checker, reload) is logged with what and why, the proxy keeps its last good config, and
 * the apply is tried again on the next change and after `retryDelayMs`; it never stops the daemon.
 */
export class RenderPipeline implements Lifecycle {
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly queue = new PQueue({ concurrency: 1 });
  private readonly quiet: Quiescence;
  private latest: Snapshot | undefined;
  private applied: Snapshot | undefined;
  private firstUnappliedAt: number | undefined;
  private failing = false;
  private readonly reasons = new Set<string>();
  private retryTimer: TimerHandle | undefined;
  private reportPending = false;
  private closed = false;

  constructor(private readonly options: RenderPipelineOptions) {
    this.log = options.logger.child({ component: 'render' });
    this.clock = options.clock ?? systemClock;
    this.quiet = new Quiescence(options.wait, this.clock, () => this.enqueue());
  }

  start(): Promise<void> {
    if (this.closed) return Promise.reject(new ClosedError('the render pipeline is closed'));
    return Promise.resolve();
  }

  /** A new snapshot from the watcher; `seenAt` is when its first change was seen (clock ms). */
  update(snapshot: Snapshot, seenAt: number = this.clock.now()): void {
    if (this.closed) return;
    this.latest = snapshot;
    const busy = this.queue.pending > 0 || this.queue.size > 0;
    if (!busy && this.applied && !this.failing && snapshotsEqual(this.applied, snapshot)) {
      // Back to what is served (a change and its undo inside one wait): nothing to do. Not while an
      // apply runs: it may be installing something else, and this snapshot must follow it.
      this.firstUnappliedAt = undefined;
      return;
    }
    this.firstUnappliedAt ??= seenAt;
    this.quiet.trigger();
  }

  /** The template file changed (and compiled): render at once, no debounce. */
  templateChanged(): void {
    if (this.closed) return;
    this.reasons.add('template edited');
    this.quiet.flush(true);
  }

  /** Resolves when no apply is running or waiting (tests, render --once). */
  idle(): Promise<void> {
    return this.queue.onIdle();
  }

  readonly close = once(async (): Promise<void> => {
    this.closed = true;
    this.quiet.close();
    this.clock.clearTimeout(this.retryTimer);
    this.queue.clear();
    try {
      // An apply in flight finishes: stopping between install and reload would leave the proxy behind its file.
      await withTimeout(this.queue.onIdle(), this.options.closeTimeoutMs ?? 15_000, 'the proxy apply in flight');
    } catch (err) {
      this.log.warn(`stopping without waiting for the apply in flight: ${errorMessage(err)}`);
    }
  });

  private enqueue(): void {
    if (this.closed || !this.latest) return;
    // One running and at most one waiting: the waiting one reads the newest snapshot when it starts.
    if (this.queue.size > 0) return;
    void this.queue.add(() => this.applyLatest());
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      this.reasons.add('retry after a failure');
      this.enqueue();
    }, this.options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS);
  }

  private async applyLatest(): Promise<void> {
    const snapshot = this.latest;
    if (!snapshot || this.closed) return;
    const reasons = [...this.reasons];
    this.reasons.clear();
    const seenAt = this.firstUnappliedAt;
    this.firstUnappliedAt = undefined;
    const templateEdited = reasons.includes('template edited');
    const metrics = this.options.metrics;

    if (this.applied && !this.failing && !templateEdited && snapshotsEqual(this.applied, snapshot)) {
      await this.writeReportIfPending(snapshot);
      return;
    }
    const changes = describeChanges(this.applied, snapshot);
    const why = summarizeChanges(templateEdited && changes.length === 0 ? ['template edited'] : changes);
    const reason = [...reasons.filter((r) => r !== 'template edited' || changes.length > 0), why].join('; ');
    const kind = this.options.driver.kind;

    let config: string;
    try {
      config = this.options.renderer.render(snapshot);
    } catch (err) {
      metrics?.renders.inc({ outcome: 'error' });
      this.failing = true;
      this.keepSeenAt(seenAt);
      const what = err instanceof TemplateError ? 'the template failed' : 'rendering failed';
      this.log.error(
        `${what}, so the ${kind} config was not changed and the last good one keeps serving: ${templateErrorText(err)}`,
        {
          changes: why,
        },
      );
      // Another change or a template edit may fix it; retrying the same input would fail the same way.
      return;
    }

    let outcome: ApplyOutcome;
    try {
      outcome = await this.options.driver.apply({ config, snapshot, reason });
    } catch (err) {
      metrics?.renders.inc({ outcome: 'error' });
      this.failing = true;
      this.keepSeenAt(seenAt);
      this.logApplyError(err, why);
      this.scheduleRetry();
      return;
    }

    this.failing = false;
    for (const change of liveChanges(this.applied, snapshot)) metrics?.switches.inc({ action: change.action });
    this.applied = snapshot;
    this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const now = this.clock.now();
    metrics?.renders.inc({ outcome: outcome.action === 'unchanged' ? 'unchanged' : 'changed' });
    metrics?.lastApplySuccess.set(now / 1000);
    if (outcome.action !== 'unchanged' && seenAt !== undefined)
      metrics?.eventToLive.observe(Math.max(0, now - seenAt) / 1000);
    // The driver logs the reload itself, with `reason`; this line adds the latency.
    this.log.debug(`${ACTION_TEXT[outcome.action]} ${kind} config ${outcome.configPath} because ${why}`, {
      action: outcome.action,
      ...(seenAt !== undefined ? { afterMs: now - seenAt } : {}),
    });
    this.reportPending = true;
    await this.writeReportIfPending(snapshot);
  }

  /** A failed apply still owes the change seen at `seenAt`: the latency is measured from it. */
  private keepSeenAt(seenAt: number | undefined): void {
    if (seenAt !== undefined) this.firstUnappliedAt = Math.min(seenAt, this.firstUnappliedAt ?? seenAt);
  }

  private logApplyError(err: unknown, why: string): void {
    const kind = this.options.driver.kind;
    const retry = `trying again on the next change or in ${formatMs(this.options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS)}`;
    // The driver has already logged a rejection (with the checker's output) or a failed reload as
    // its own event; this line only says what happens next.
    if (err instanceof CheckerError || err instanceof ReloadError) {
      this.log.debug(`${kind} apply failed (${err.message}); ${retry}`, { changes: why });
    } else {
      this.log.error(
        `applying the ${kind} config failed, the last good config keeps serving; ${retry}: ${errorMessage(err)}`,
        {
          changes: why,
        },
      );
    }
  }

  private async writeReportIfPending(snapshot: Snapshot): Promise<void> {
    const reporter = this.options.reporter;
    if (!reporter || !this.reportPending) return;
    try {
      await reporter.write(snapshot);
      this.reportPending = false;
    } catch (err) {
      this.log.warn(
        `could not write this host's renderer report to Consul (switch --wait reads it): ${errorMessage(err)}`,
      );
      this.scheduleRetry();
    }
  }
}
