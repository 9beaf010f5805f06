import { afterEach, describe, expect, it } from '@jest/globals';
import { PassThrough } from 'node:stream';
import { CheckerError, ReloadError, TemplateError } from '../../../src/errors.js';
import { Metrics } from '../../../src/http/metrics.js';
import { createLogger } from '../../../src/log/logger.js';
import type { ApplyInput, ApplyOutcome, ProxyDriver } from '../../../src/proxy/proxy-driver.js';
import { RenderPipeline, type RenderPipelineOptions } from '../../../src/render/render-pipeline.js';
import type { TemplateRenderer } from '../../../src/render/template-renderer.js';
import { buildSnapshot, DEFAULT_COLORS } from '../../../src/snapshot/build-snapshot.js';
import type { Snapshot } from '../../../src/snapshot/snapshot.js';
import { healthInstance } from '../snapshot/fixtures.js';
import { FakeClock, flushPromises } from '../../helpers/fake-clock.js';

/** A snapshot of service "app" with `n` blue instances. */
function snap(n: number, live?: string): Snapshot {
  const instances = Array.from({ length: n }, (_, i) =>
    healthInstance('app', `a${i}`, { color: 'blue', address: `10.0.0.${i + 1}` }),
  );
  return buildSnapshot(
    { health: new Map([['app', instances]]), states: new Map(live ? [['app', { live }]] : []) },
    { colors: DEFAULT_COLORS, services: ['app'] },
  ).snapshot;
}

class FakeRenderer implements TemplateRenderer {
  fail: Error | undefined;
  render(snapshot: Snapshot): string {
    if (this.fail) throw this.fail;
    return `servers ${snapshot.services[0]!.instances.length}`;
  }
}

class FakeDriver implements ProxyDriver {
  readonly kind = 'haproxy' as const;
  readonly applied: ApplyInput[] = [];
  fail: Error | undefined;
  /** When set, apply() waits for release(). */
  hold = false;
  private release: (() => void) | undefined;
  private last = '';
  /** Configs the fake "Runtime API" takes without a reload; undefined: a driver without one. */
  runtimeTakes: ((config: string) => boolean) | undefined;

  get appliesWithoutReload(): ((config: string) => boolean) | undefined {
    const takes = this.runtimeTakes;
    return takes ? (config) => config !== this.last && takes(config) : undefined;
  }

  async apply(input: ApplyInput): Promise<ApplyOutcome> {
    this.applied.push(input);
    if (this.hold) await new Promise<void>((r) => (this.release = r));
    if (this.fail) throw this.fail;
    const action = input.config === this.last ? 'unchanged' : 'reloaded';
    this.last = input.config;
    return { action, configPath: '/etc/haproxy/haproxy.cfg' };
  }

  finish(): void {
    this.hold = false;
    this.release?.();
  }

  start(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const pipelines: RenderPipeline[] = [];
afterEach(async () => {
  await Promise.all(pipelines.splice(0).map((p) => p.close()));
});

function setup(overrides: Partial<RenderPipelineOptions> = {}) {
  const clock = new FakeClock();
  const renderer = new FakeRenderer();
  const driver = new FakeDriver();
  const metrics = new Metrics({ defaultMetrics: false });
  const reports: Snapshot[] = [];
  const stream = new PassThrough();
  const lines: string[] = [];
  stream.on('data', (b: Buffer) => lines.push(...b.toString().trim().split('\n')));
  const pipeline = new RenderPipeline({
    renderer,
    driver,
    logger: createLogger({ stream, json: true, level: 'debug' }),
    metrics,
    wait: { minMs: 100, maxMs: 1000 },
    retryDelayMs: 5000,
    clock,
    reporter: {
      write: (s) => {
        reports.push(s);
        return Promise.resolve();
      },
    },
    ...overrides,
  });
  pipelines.push(pipeline);
  const messages = () => lines.map((l) => JSON.parse(l) as { level: string; message: string });
  const counter = async (name: 'renders', outcome: string) =>
    (await metrics[name].get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
  return { clock, renderer, driver, metrics, reports, pipeline, messages, counter };
}

describe('RenderPipeline', () => {
  it('turns 50 changes within a second into at most two applies, the last with the newest snapshot', async () => {
    const { clock, driver, pipeline } = setup();
    await pipeline.start();
    for (let i = 1; i <= 50; i++) {
      pipeline.update(snap(i), clock.now());
      await clock.advance(20);
    }
    await clock.advance(2000);
    expect(driver.applied.length).toBeGreaterThanOrEqual(1);
    expect(driver.applied.length).toBeLessThanOrEqual(2);
    expect(driver.applied.at(-1)!.config).toBe('servers 50');
  });

  it('renders after min of quiet, and says why in the log', async () => {
    const { clock, driver, pipeline, messages, reports } = setup();
    pipeline.update(snap(1, 'blue'));
    await clock.advance(99);
    expect(driver.applied).toHaveLength(0);
    await clock.advance(1);
    expect(driver.applied).toHaveLength(1);
    pipeline.update(snap(2, 'blue'));
    await clock.advance(100);
    await flushPromises();
    // The driver logs the reload with this reason; the pipeline adds the latency at debug level.
    expect(driver.applied[1]!.reason).toBe('app: instance 10.0.0.2:8080 (blue) added');
    expect(messages().at(-1)).toMatchObject({
      message:
        'installed and reloaded haproxy config /etc/haproxy/haproxy.cfg because app: instance 10.0.0.2:8080 (blue) added',
      afterMs: 100,
    });
    expect(reports).toHaveLength(2);
  });

  it('coalesces changes that arrive during an apply into one more apply with the newest snapshot', async () => {
    const { clock, driver, pipeline } = setup({ wait: { minMs: 0, maxMs: 0 } });
    driver.hold = true;
    pipeline.update(snap(1));
    await flushPromises();
    for (let i = 2; i <= 10; i++) pipeline.update(snap(i));
    await flushPromises();
    expect(driver.applied).toHaveLength(1);
    driver.finish();
    await pipeline.idle();
    await clock.advance(10);
    expect(driver.applied.map((a) => a.config)).toEqual(['servers 1', 'servers 10']);
  });

  it('follows an undo that arrives while the change it undoes is being applied', async () => {
    const { clock, driver, pipeline } = setup({ wait: { minMs: 0, maxMs: 0 } });
    pipeline.update(snap(1));
    await clock.advance(10);
    driver.hold = true;
    pipeline.update(snap(2));
    await flushPromises();
    pipeline.update(snap(1)); // equal to what was served before the apply in flight
    driver.finish();
    await pipeline.idle();
    await clock.advance(10);
    expect(driver.applied.map((a) => a.config)).toEqual(['servers 1', 'servers 2', 'servers 1']);
  });

  it('does nothing for a snapshot equal to the one served', async () => {
    const { clock, driver, pipeline } = setup();
    pipeline.update(snap(1));
    await clock.advance(200);
    pipeline.update(snap(1));
    await clock.advance(2000);
    expect(driver.applied).toHaveLength(1);
  });

  it('keeps serving after a template error, and renders once the next change works', async () => {
    const { clock, renderer, driver, pipeline, messages, counter } = setup();
    renderer.fail = new TemplateError('template /t.eta line 3: ReferenceError: x is not defined');
    pipeline.update(snap(1));
    await clock.advance(200);
    expect(driver.applied).toHaveLength(0);
    expect(messages().find((m) => m.level === 'error')!.message).toContain(
      'the template failed, so the haproxy config was not changed and the last good one keeps serving: template /t.eta line 3',
    );
    expect(await counter('renders', 'error')).toBe(1);
    renderer.fail = undefined;
    pipeline.update(snap(2));
    await clock.advance(200);
    expect(driver.applied.map((a) => a.config)).toEqual(['servers 2']);
  });

  it('retries a checker rejection after the retry delay', async () => {
    const { clock, driver, pipeline, messages, metrics, counter } = setup();
    driver.fail = new CheckerError(
      'haproxy -c rejected the candidate',
      "[ALERT] parsing [x.cfg:12] : unknown keyword 'evil'",
    );
    pipeline.update(snap(1));
    await clock.advance(200);
    expect(await counter('renders', 'error')).toBe(1);
    expect(messages().at(-1)!.message).toBe(
      'haproxy apply failed (haproxy -c rejected the candidate); trying again on the next change or in 5s',
    );
    driver.fail = undefined;
    await clock.advance(4000);
    expect(driver.applied).toHaveLength(1);
    await clock.advance(1000);
    expect(driver.applied).toHaveLength(2);
    expect(driver.applied[1]!.reason).toContain('retry after a failure');
    // The latency counts from the change, not from the retry.
    const hist = await metrics.eventToLive.get();
    expect(hist.values.find((v) => v.metricName === 'switchyard_event_to_live_seconds_sum')!.value).toBeGreaterThan(5);
  });

  it('records failed applies in a row for /healthz, and a success clears them', async () => {
    const { clock, driver, renderer, pipeline } = setup();
    expect(pipeline.applyRecord()).toEqual({ lastSuccessAt: undefined, consecutiveFailures: 0, lastError: undefined });
    driver.fail = new CheckerError('haproxy -c rejected the candidate', "unknown keyword 'evil'");
    pipeline.update(snap(1));
    await clock.advance(200);
    await clock.advance(5000);
    await clock.advance(5000);
    expect(pipeline.applyRecord()).toEqual({
      lastSuccessAt: undefined,
      consecutiveFailures: 3,
      lastError: 'haproxy -c rejected the candidate',
    });
    driver.fail = undefined;
    await clock.advance(5000);
    // The third retry (the fourth apply): start + 100 ms of quiet + 3 retry delays.
    expect(pipeline.applyRecord()).toEqual({
      lastSuccessAt: 1_000_000 + 100 + 3 * 5000,
      consecutiveFailures: 0,
      lastError: undefined,
    });
    // A template that fails to render counts too, with its one-line reason.
    renderer.fail = new TemplateError('template app.cfg.eta line 3: x is not defined\n  compiled source…');
    pipeline.update(snap(2));
    await clock.advance(200);
    expect(pipeline.applyRecord()).toMatchObject({
      consecutiveFailures: 1,
      lastError: 'the template failed: template app.cfg.eta line 3: x is not defined',
    });
  });

  it('logs an unexpected apply failure as an error', async () => {
    const { clock, driver, pipeline, messages } = setup();
    driver.fail = new Error('EACCES: permission denied, open /etc/haproxy/.haproxy.cfg.1.tmp');
    pipeline.update(snap(1));
    await clock.advance(200);
    expect(messages().find((m) => m.level === 'error')!.message).toBe(
      'applying the haproxy config failed, the last good config keeps serving; trying again on the next change or in 5s: EACCES: permission denied, open /etc/haproxy/.haproxy.cfg.1.tmp',
    );
  });

  it('retries a failed reload on the next change too', async () => {
    const { clock, driver, pipeline, messages } = setup();
    driver.fail = new ReloadError('kill -USR2 4242: no such process');
    pipeline.update(snap(1));
    await clock.advance(200);
    expect(messages().some((m) => m.message.startsWith('haproxy apply failed (kill -USR2'))).toBe(true);
    driver.fail = undefined;
    pipeline.update(snap(1)); // the same snapshot: still applied, the last one failed
    await clock.advance(200);
    expect(driver.applied).toHaveLength(2);
  });

  it('re-renders at once when the template is edited, without waiting for quiet', async () => {
    const { clock, driver, pipeline } = setup({ wait: { minMs: 5000, maxMs: 20_000 } });
    pipeline.update(snap(1));
    await clock.advance(6000);
    expect(driver.applied).toHaveLength(1);
    pipeline.templateChanged();
    await flushPromises();
    expect(driver.applied).toHaveLength(2);
    expect(driver.applied[1]!.reason).toContain('template edited');
  });

  it('counts renders and records event-to-live latency and the last success', async () => {
    const { clock, pipeline, metrics, counter } = setup();
    const seen = clock.now();
    pipeline.update(snap(1), seen);
    await clock.advance(150);
    expect(await counter('renders', 'changed')).toBe(1);
    const hist = await metrics.eventToLive.get();
    expect(hist.values.find((v) => v.metricName === 'switchyard_event_to_live_seconds_sum')!.value).toBeCloseTo(0.1, 2);
    expect((await metrics.lastApplySuccess.get()).values[0]!.value).toBeGreaterThan(0);
  });

  it('counts a live-color change as a switch once it is applied', async () => {
    const { clock, pipeline, metrics } = setup();
    pipeline.update(snap(2, 'blue'));
    await clock.advance(200);
    pipeline.update(snap(2, 'green'));
    await clock.advance(200);
    const switches = (await metrics.switches.get()).values;
    expect(switches.map((v) => [v.labels.action, v.value])).toEqual([['switch', 1]]);
  });

  it('close() waits for the apply in flight, drops pending work and is idempotent', async () => {
    const { clock, driver, pipeline } = setup({ wait: { minMs: 0, maxMs: 0 } });
    driver.hold = true;
    pipeline.update(snap(1));
    await flushPromises();
    pipeline.update(snap(2));
    let closed = false;
    const c1 = pipeline.close().then(() => (closed = true));
    const c2 = pipeline.close();
    await flushPromises();
    expect(closed).toBe(false);
    driver.finish();
    await Promise.all([c1, c2]);
    pipeline.update(snap(3));
    await clock.advance(5000);
    expect(driver.applied.map((a) => a.config)).toEqual(['servers 1']);
  });

  it('applies a change the driver takes without a reload at once, and coalesces the ones that need one', async () => {
    const { clock, driver, pipeline } = setup();
    driver.runtimeTakes = (config) => config !== 'servers 5';
    pipeline.update(snap(2, 'blue'));
    await clock.advance(200);
    expect(driver.applied.map((a) => a.config)).toEqual(['servers 2']);
    pipeline.update(snap(3, 'blue'));
    await flushPromises();
    expect(driver.applied.map((a) => a.config)).toEqual(['servers 2', 'servers 3']);
    // Needs a reload: waits for min of quiet, as before.
    pipeline.update(snap(5, 'blue'));
    await clock.advance(99);
    expect(driver.applied).toHaveLength(2);
    await clock.advance(1);
    expect(driver.applied.map((a) => a.config)).toEqual(['servers 2', 'servers 3', 'servers 5']);
  });

  it('applies a switch, rollback or canary step at once even when it needs a reload', async () => {
    const { clock, driver, pipeline } = setup();
    pipeline.update(snap(2, 'blue'));
    await clock.advance(200);
    expect(driver.applied).toHaveLength(1);
    pipeline.update(snap(2, 'green'));
    await flushPromises();
    expect(driver.applied.map((a) => a.snapshot.services[0]!.live)).toEqual(['blue', 'green']);
    // A plain instance change still waits.
    pipeline.update(snap(3, 'green'));
    await flushPromises();
    expect(driver.applied).toHaveLength(2);
    await clock.advance(100);
    expect(driver.applied).toHaveLength(3);
  });
});

/** Service "app", live blue, with the blue instances numbered `ids` (10.0.0.<id>). */
function blues(ids: readonly number[], live = 'blue'): Snapshot {
  const instances = ids.map((i) => healthInstance('app', `a${i}`, { color: 'blue', address: `10.0.0.${i}` }));
  return buildSnapshot(
    { health: new Map([['app', instances]]), states: new Map([['app', { live }]]) },
    { colors: DEFAULT_COLORS, services: ['app'] },
  ).snapshot;
}
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const GROWTH = { minMs: 2000, maxMs: 30_000 };

describe('RenderPipeline: growth during a burst waits longer (--growth-wait)', () => {
  /** Serves 1..2, then a quiet spell; returns when the burst may begin. */
  async function served(growthWait: typeof GROWTH | undefined) {
    const t = setup({ growthWait });
    t.pipeline.update(blues([1, 2]));
    await t.clock.advance(10_000);
    expect(t.driver.applied).toHaveLength(1);
    const applyTimes: number[] = [];
    const apply = t.driver.apply.bind(t.driver);
    t.driver.apply = (input) => {
      applyTimes.push(t.clock.now());
      return apply(input);
    };
    return { ...t, applyTimes };
  }

  /** 50 instances added one every 220 ms (Docker starting 50 containers in 11 s). */
  async function burst(t: Awaited<ReturnType<typeof served>>) {
    for (let n = 3; n <= 52; n++) {
      t.pipeline.update(blues(range(1, n)));
      await t.clock.advance(220);
    }
  }

  it('turns a burst of 50 starts over 11 s into two reloads, the first after the normal wait', async () => {
    const t = await served(GROWTH);
    const start = t.clock.now();
    await burst(t);
    const end = t.clock.now() - 220;
    await t.clock.advance(5_000);
    expect(t.applyTimes).toEqual([start + 100, end + 2000]);
    expect(t.driver.applied.at(-1)!.config).toBe('servers 52');
  });

  it('reloads about once a second through the same burst without it', async () => {
    const t = await served(undefined);
    await burst(t);
    await t.clock.advance(5_000);
    expect(t.driver.applied.length - 1).toBeGreaterThan(8);
    expect(t.driver.applied.at(-1)!.config).toBe('servers 52');
  });

  it('serves a single new instance after the normal wait, and a second one after a quiet spell too', async () => {
    const t = await served(GROWTH);
    const t1 = t.clock.now();
    t.pipeline.update(blues([1, 2, 3]));
    await t.clock.advance(5_000);
    const t2 = t.clock.now();
    t.pipeline.update(blues([1, 2, 3, 4]));
    await t.clock.advance(5_000);
    expect(t.applyTimes).toEqual([t1 + 100, t2 + 100]);
  });

  it('lets growth that arrives within the growth quiet period of a reload wait for 2 s of quiet', async () => {
    const t = await served(GROWTH);
    const t1 = t.clock.now();
    t.pipeline.update(blues([1, 2, 3]));
    await t.clock.advance(1_000);
    t.pipeline.update(blues([1, 2, 3, 4]));
    await t.clock.advance(5_000);
    expect(t.applyTimes).toEqual([t1 + 100, t1 + 1000 + 2000]);
  });

  it('does not count a removal’s reload as the start of a burst: a replacement right after it takes the normal wait', async () => {
    const t = await served(GROWTH);
    const t1 = t.clock.now();
    t.pipeline.update(blues([1])); // instance 2 stopped
    await t.clock.advance(1_000);
    t.pipeline.update(blues([1, 3])); // its replacement passes a moment later
    await t.clock.advance(5_000);
    expect(t.applyTimes).toEqual([t1 + 100, t1 + 1000 + 100]);
  });

  it('never delays a removal: it brings a pending growth wait forward to the normal wait', async () => {
    const t = await served(GROWTH);
    const t1 = t.clock.now();
    t.pipeline.update(blues([1, 2, 3]));
    await t.clock.advance(500);
    t.pipeline.update(blues([1, 2, 3, 4])); // growth: waits for 2 s of quiet
    await t.clock.advance(500);
    t.pipeline.update(blues([2, 3, 4])); // instance 1 gone
    await t.clock.advance(50);
    t.pipeline.update(blues([2, 3, 4, 5])); // growth again: does not push the removal back
    await t.clock.advance(5_000);
    expect(t.applyTimes).toEqual([t1 + 100, t1 + 1000 + 150]);
    expect(t.driver.applied.at(-1)!.config).toBe('servers 4');
  });

  it('applies a switch at once while a growth wait is pending, with the growth it carries', async () => {
    const t = await served(GROWTH);
    const t1 = t.clock.now();
    t.pipeline.update(blues([1, 2, 3]));
    await t.clock.advance(500);
    t.pipeline.update(blues([1, 2, 3, 4]));
    await t.clock.advance(500);
    t.pipeline.update(blues([1, 2, 3, 4], 'green'));
    await flushPromises();
    expect(t.applyTimes).toEqual([t1 + 100, t1 + 1000]);
    expect(t.driver.applied.at(-1)!.snapshot.services[0]!.live).toBe('green');
  });

  /** Instances 1..n, the last one `health` (a new container before and after its first check). */
  function lastIs(n: number, health: 'passing' | 'critical'): Snapshot {
    const instances = range(1, n).map((i) =>
      healthInstance('app', `a${i}`, { color: 'blue', address: `10.0.0.${i}`, status: i === n ? health : 'passing' }),
    );
    return buildSnapshot(
      { health: new Map([['app', instances]]), states: new Map([['app', { live: 'blue' }]]) },
      { colors: DEFAULT_COLORS, services: ['app'] },
    ).snapshot;
  }
  // Like the shipped templates: only passing instances reach the config.
  const passingOnly = (s: Snapshot) =>
    `servers ${s.services[0]!.instances.filter((i) => i.health === 'passing').length}`;

  it('does not count an apply that left the config unchanged as a reload', async () => {
    const t = await served(GROWTH);
    t.renderer.render = passingOnly;
    const t1 = t.clock.now();
    t.pipeline.update(lastIs(3, 'critical'));
    await t.clock.advance(1_000);
    t.pipeline.update(lastIs(3, 'passing'));
    await t.clock.advance(5_000);
    expect(t.applyTimes).toEqual([t1 + 100, t1 + 1100]);
    expect(t.driver.applied.map((a) => a.config)).toEqual(['servers 2', 'servers 2', 'servers 3']);
  });

  it('does not count an apply in flight that installs the same config as a reload either', async () => {
    const t = await served(GROWTH);
    t.renderer.render = passingOnly;
    const t1 = t.clock.now();
    t.driver.hold = true;
    t.pipeline.update(lastIs(3, 'critical'));
    await t.clock.advance(100);
    t.pipeline.update(lastIs(3, 'passing')); // while the unchanged apply runs
    await t.clock.advance(10);
    t.driver.finish();
    await t.clock.advance(5_000);
    expect(t.applyTimes).toEqual([t1 + 100, t1 + 200]);
    expect(t.driver.applied.at(-1)!.config).toBe('servers 3');
  });

  it('is off with a growth wait no longer than --wait', async () => {
    const t = await served({ minMs: 0, maxMs: 0 });
    const t1 = t.clock.now();
    t.pipeline.update(blues([1, 2, 3]));
    await t.clock.advance(500);
    t.pipeline.update(blues([1, 2, 3, 4]));
    await t.clock.advance(5_000);
    expect(t.applyTimes).toEqual([t1 + 100, t1 + 600]);
  });
});
