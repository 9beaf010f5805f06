import PQueue from 'p-queue';
import { formatMs } from '../time/duration.js';
import { CheckerError, ClosedError, ReloadError, TemplateError, errorMessage } from '../errors.js';
import type { Metrics } from '../http/metrics.js';
import { once, withTimeout, type Lifecycle } from '../lifecycle.js';
import type { Logger } from '../log/logger.js';
import type { ApplyOutcome, ProxyDriver } from '../proxy/proxy-driver.js';
import { describeChanges, isGrowth, snapshotsEqual, summarizeChanges } from '../snapshot/snapshot-diff.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import { liveChanges } from '../switch/live-changes.js';
import { systemClock, type Clock, type TimerHandle } from '../time/clock.js';
import { Quiescence, type WaitRange } from '../watch/quiescence.js';
import { chooseWait, effectiveGrowthWait } from './growth-wait.js';
import type { ApplyRecord } from './render-health.js';
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
  /**
   * The longer wait for growth during a burst (growth-wait.ts, `--growth-wait`); undefined, `0` or a
   * range no longer than `wait`: off.
   */
  growthWait?: WaitRange;
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
 * Snapshots → debounce (wait min:max) → render → check, install, reload, one at a time. Changes
 * that need no reload (the driver applies them through HAProxy's Runtime API) and operator actions
 * (a switch, rollback or canary step: the live color or weights changed) skip the debounce. Growth
 * during a burst (more instances while reloads are already under way) waits longer, so a burst
 * of starts costs about two reloads (growth-wait.ts).
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
  private readonly growthWait: WaitRange | undefined;
  /** A change that needs a reload is waiting in `quiet`; the apply it starts will likely reload. */
  private reloadWaiting = false;
  /** The next apply carries a change that needs a reload. */
  private reloadDue = false;
  /** The apply running reloads the proxy for growth (growth-wait.ts). */
  private growthReloading = false;
  /** When the last reload ended, if it was for growth. */
  private lastGrowthReloadAt: number | undefined;
  /** The config of the last successful apply. */
  private appliedConfig: string | undefined;
  private latest: Snapshot | undefined;
  private applied: Snapshot | undefined;
  private firstUnappliedAt: number | undefined;
  private failing = false;
  private readonly record: ApplyRecord = { lastSuccessAt: undefined, consecutiveFailures: 0, lastError: undefined };
  private readonly reasons = new Set<string>();
  private retryTimer: TimerHandle | undefined;
  private reportPending = false;
  /** The last snapshot immediate() rendered, so applyLatest() does not render it twice. */
  private rendered: { snapshot: Snapshot; config: string } | undefined;
  private closed = false;

  constructor(private readonly options: RenderPipelineOptions) {
    this.log = options.logger.child({ component: 'render' });
    this.clock = options.clock ?? systemClock;
    this.growthWait = effectiveGrowthWait(options.wait, options.growthWait);
    this.quiet = new Quiescence(options.wait, this.clock, () => this.fired());
  }

  /** Successes and failures of applies so far, for /healthz (render-health.ts). */
  applyRecord(): ApplyRecord {
    return { ...this.record };
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
    // The quiet period exists to coalesce reloads. A change that needs none, and an operator's
    // switch, rollback or canary step, are applied at once.
    if (this.immediate(snapshot)) this.quiet.flush(true);
    else this.waitForReload(snapshot);
  }

  private waitForReload(snapshot: Snapshot): void {
    const choice = chooseWait({
      wait: this.options.wait,
      growthWait: this.growthWait,
      applied: this.applied,
      next: snapshot,
      failing: this.failing,
      waitPending: this.quiet.pending,
      growthReloading: this.growthReloading,
      lastGrowthReloadAt: this.lastGrowthReloadAt,
      now: this.clock.now(),
    });
    if (choice.growth && !this.quiet.pending) {
      const g = choice.range;
      this.log.debug(
        `more instances during a burst of changes: reloading after ${formatMs(g.minMs)} of quiet, at most ${formatMs(g.maxMs)} from now (--growth-wait)`,
      );
    }
    this.reloadWaiting = true;
    this.quiet.trigger(choice.range);
  }

  private fired(): void {
    if (this.reloadWaiting) {
      this.reloadWaiting = false;
      this.reloadDue = true;
    }
    this.enqueue();
  }

  private immediate(snapshot: Snapshot): boolean {
    if (liveChanges(this.applied, snapshot).length > 0) return true;
    const driver = this.options.driver;
    if (!driver.appliesWithoutReload || this.failing) return false;
    let config: string;
    try {
      config = this.options.renderer.render(snapshot);
    } catch {
      // applyLatest() renders it again and reports the failure with its context.
      return false;
    }
    this.rendered = { snapshot, config };
    return driver.appliesWithoutReload(config);
  }

  /** The template file changed (and compiled): render at once, no debounce. */
  templateChanged(): void {
    if (this.closed) return;
    this.reasons.add('template edited');
    this.rendered = undefined;
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
    const reloadDue = this.reloadDue;
    this.reloadDue = false;
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
      config =
        this.rendered?.snapshot === snapshot && !templateEdited
          ? this.rendered.config
          : this.options.renderer.render(snapshot);
      this.rendered = undefined;
    } catch (err) {
      metrics?.renders.inc({ outcome: 'error' });
      this.failing = true;
      this.keepSeenAt(seenAt);
      const what = err instanceof TemplateError ? 'the template failed' : 'rendering failed';
      this.recordFailure(`${what}: ${templateErrorText(err)}`);
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
    // The same config as installed (an instance registered before its first check passed) reloads nothing.
    const growth = isGrowth(this.applied, snapshot);
    this.growthReloading = reloadDue && growth && config !== this.appliedConfig;
    try {
      outcome = await this.options.driver.apply({ config, snapshot, reason });
    } catch (err) {
      this.growthReloading = false;
      metrics?.renders.inc({ outcome: 'error' });
      this.failing = true;
      this.keepSeenAt(seenAt);
      this.recordFailure(errorMessage(err).split('\n')[0]!);
      this.logApplyError(err, why);
      this.scheduleRetry();
      return;
    }

    this.growthReloading = false;
    // Only a reload that happened: an instance registered before its first check passed renders
    // the same config, and the change that makes it passing must not wait as if a burst were on.
    // And only one for growth: a removal's reload does not start a burst.
    if (outcome.action === 'reloaded') this.lastGrowthReloadAt = growth ? this.clock.now() : undefined;
    this.appliedConfig = config;
    this.failing = false;
    for (const change of liveChanges(this.applied, snapshot)) metrics?.switches.inc({ action: change.action });
    this.applied = snapshot;
    this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const now = this.clock.now();
    Object.assign(this.record, { lastSuccessAt: now, consecutiveFailures: 0, lastError: undefined });
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

  private recordFailure(reason: string): void {
    this.record.consecutiveFailures += 1;
    this.record.lastError = reason;
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
