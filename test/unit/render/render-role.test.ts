import { describe, expect, it, jest } from '@jest/globals';
import { Metrics } from '../../../src/http/metrics.js';
import { silentLogger } from '../../../src/log/logger.js';
import type { ProxyDriver } from '../../../src/proxy/proxy-driver.js';
import type { RenderOptions } from '../../../src/render/render-options.js';
import { RenderRole, renderSettings } from '../../../src/render/render-role.js';
import { FakeConsul } from '../../helpers/fake-consul.js';

const options: RenderOptions = {
  proxy: 'haproxy',
  templateParam: {},
  wait: { minMs: 0, maxMs: 0 },
  growthWait: { minMs: 0, maxMs: 0 },
  consulWait: 1_000,
  restartGrace: 0,
  trafficInterval: 5000,
  retryDelay: 100,
  reload: false,
  colors: ['blue', 'green'],
};

function role(driverClose: () => Promise<void>) {
  const driver = {
    kind: 'haproxy',
    start: async () => undefined,
    close: jest.fn(driverClose),
    apply: async () => ({ action: 'installed', configPath: '/nowhere' }),
  } satisfies ProxyDriver;
  const r = new RenderRole(options, renderSettings(options), {
    consul: new FakeConsul({ blocking: false }),
    driver,
    logger: silentLogger(),
    metrics: new Metrics({ defaultMetrics: false }),
    kvPrefix: 'switchyard',
  });
  return { r, driver };
}

describe('RenderRole.close', () => {
  it('runs every cleanup even when one throws, and reports each failure', async () => {
    const { r, driver } = role(() => Promise.reject(new Error('driver stuck')));
    const watcherClose = jest.spyOn(r.watcher, 'close');
    jest.spyOn(r.templateWatcher, 'close').mockRejectedValue(new Error('watcher stuck'));
    const pipelineClose = jest.spyOn(r.pipeline, 'close');

    const err = await r.close().catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      'closing the template watcher failed: watcher stuck; closing the proxy driver failed: driver stuck',
    );
    expect(watcherClose).toHaveBeenCalledTimes(1);
    expect(pipelineClose).toHaveBeenCalledTimes(1);
    expect(driver.close).toHaveBeenCalledTimes(1);
    // Idempotent: a second close waits for the same shutdown instead of running it again.
    await expect(r.close()).rejects.toBe(err);
    expect(driver.close).toHaveBeenCalledTimes(1);
  });

  it('closes quietly when every part does', async () => {
    const { r, driver } = role(() => Promise.resolve());
    await expect(r.close()).resolves.toBeUndefined();
    expect(driver.close).toHaveBeenCalledTimes(1);
  });
});
