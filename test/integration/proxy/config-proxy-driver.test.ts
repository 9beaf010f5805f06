import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CheckerError, ClosedError, ReloadError } from '../../../src/errors.js';
import { Metrics } from '../../../src/http/metrics.js';
import { silentLogger } from '../../../src/log/logger.js';
import type { ConfigChecker } from '../../../src/proxy/config-checker.js';
import { ConfigProxyDriver } from '../../../src/proxy/config-proxy-driver.js';
import type { Reloader } from '../../../src/proxy/reloader.js';
import type { RuntimeUpdater } from '../../../src/proxy/runtime-updater.js';

/**
 * The check → install → reload sequence with fakes of our own Checker/Reloader/RuntimeUpdater
 * interfaces; the installer writes real files in a temp folder, hence an integration test.
 */
class FakeChecker implements ConfigChecker {
  readonly description = 'fake checker';
  seen: string[] = [];
  reject = false;
  async check(candidatePath: string): Promise<string> {
    this.seen.push(readFileSync(candidatePath, 'utf8'));
    if (this.reject) throw new CheckerError('fake rejected the candidate config', 'line 3: unknown directive');
    return '';
  }
}

class FakeReloader implements Reloader {
  readonly description = 'fake reloader';
  reloads = 0;
  fail = false;
  async reload(): Promise<void> {
    if (this.fail) throw new ReloadError('master not running');
    this.reloads++;
  }
}

const snapshot = { services: [] };

describe('ConfigProxyDriver', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function setup(runtime?: RuntimeUpdater) {
    dir = mkdtempSync(path.join(tmpdir(), 'sy-driver-'));
    const checker = new FakeChecker();
    const reloader = new FakeReloader();
    const metrics = new Metrics({ defaultMetrics: false });
    const configPath = path.join(dir, 'haproxy.cfg');
    const driver = new ConfigProxyDriver({
      kind: 'haproxy',
      configPath,
      checker,
      reloader,
      runtime,
      logger: silentLogger(),
      metrics,
    });
    const apply = (config: string) => driver.apply({ config, snapshot, reason: 'test' });
    return { driver, checker, reloader, metrics, configPath, apply };
  }

  it('checks, installs and reloads a new config; the same config again does nothing', async () => {
    const { driver, checker, reloader, configPath, apply } = setup();
    await driver.start();
    expect(await apply('v1\n')).toEqual({ action: 'reloaded', configPath });
    expect(readFileSync(configPath, 'utf8')).toBe('v1\n');
    expect(readFileSync(`${configPath}.last-good`, 'utf8')).toBe('v1\n');
    expect(checker.seen).toEqual(['v1\n']);
    expect((await apply('v1\n')).action).toBe('unchanged');
    expect(reloader.reloads).toBe(1);
    expect(checker.seen).toHaveLength(1);
  });

  it('never installs a rejected candidate, counts it, and leaves no temp file', async () => {
    const { checker, reloader, metrics, configPath, apply } = setup();
    await apply('good\n');
    checker.reject = true;
    await expect(apply('bad\n')).rejects.toBeInstanceOf(CheckerError);
    expect(readFileSync(configPath, 'utf8')).toBe('good\n');
    expect(reloader.reloads).toBe(1);
    expect((await metrics.checkerRejections.get()).values[0]?.value).toBe(1);
    expect(readdirSync(dir).sort()).toEqual(['haproxy.cfg', 'haproxy.cfg.last-good']);
  });

  it('keeps the installed file mode', async () => {
    const { configPath, apply } = setup();
    writeFileSync(configPath, 'old\n', { mode: 0o640 });
    await apply('new\n');
    expect(statSync(configPath).mode & 0o777).toBe(0o640);
  });

  it('owes a failed reload and retries it on the next apply even with the same config', async () => {
    const { reloader, metrics, apply } = setup();
    reloader.fail = true;
    await expect(apply('v1\n')).rejects.toBeInstanceOf(ReloadError);
    reloader.fail = false;
    expect((await apply('v1\n')).action).toBe('reloaded');
    expect((await apply('v1\n')).action).toBe('unchanged');
    const values = (await metrics.reloads.get()).values;
    expect(values.find((v) => v.labels.outcome === 'error')?.value).toBe(1);
    expect(values.find((v) => v.labels.outcome === 'ok')?.value).toBe(1);
  });

  it('lets the Runtime API handle a change without a reload, and reloads when it declines or fails', async () => {
    const answers: Array<boolean | Error> = [true, false, new Error('socket gone')];
    const runtime: RuntimeUpdater = {
      tryApply: async () => {
        const a = answers.shift();
        if (a instanceof Error) throw a;
        return a ?? false;
      },
    };
    const { reloader, configPath, apply } = setup(runtime);
    await apply('v1\n'); // nothing installed yet: a reload, runtime not asked
    expect((await apply('v2\n')).action).toBe('runtime');
    expect(readFileSync(configPath, 'utf8')).toBe('v2\n');
    expect((await apply('v3\n')).action).toBe('reloaded');
    expect((await apply('v4\n')).action).toBe('reloaded');
    expect(reloader.reloads).toBe(3);
  });

  it('serialises applies and refuses new ones after close', async () => {
    const { driver, apply, configPath } = setup();
    const results = await Promise.all([apply('a\n'), apply('b\n'), apply('b\n')]);
    expect(results.map((r) => r.action)).toEqual(['reloaded', 'reloaded', 'unchanged']);
    expect(readFileSync(configPath, 'utf8')).toBe('b\n');
    await Promise.all([driver.close(), driver.close()]);
    await expect(apply('c\n')).rejects.toBeInstanceOf(ClosedError);
  });

  it('start() removes temp files a crash left behind', async () => {
    const { driver, configPath } = setup();
    writeFileSync(path.join(dir, '.haproxy.cfg.123.abcd.tmp'), 'half');
    writeFileSync(path.join(dir, 'unrelated.tmp'), 'keep');
    await driver.start();
    expect(readdirSync(dir).sort()).toEqual(['unrelated.tmp']);
    expect(configPath).toBe(path.join(dir, 'haproxy.cfg'));
  });
});
