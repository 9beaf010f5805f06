import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { HaproxyServingReloader } from '../../../src/proxy/haproxy-driver.js';
import { proxyReloader } from '../../../src/proxy/proxy-process.js';
import { CommandReloader, childPids, readLivePid, type Reloader } from '../../../src/proxy/reloader.js';
import { freePort, get, tempDir, TestProxy, waitFor } from './proxy-fixtures.js';

/**
 * A reload right after HAProxy started: the render role does exactly this when HAProxy starts on a
 * file it installed (the reload owed from before is paid on the next change), and a burst of changes
 * reloads a master that has just re-executed itself. An HAProxy 2.6 master drops a SIGUSR2 that
 * comes that early (about 1 in 6 here); the reload then failed after 10 s while the old config kept
 * serving. Now the signal is sent again.
 */
describe('a reload signal to an HAProxy master that has just started', () => {
  const tmp = tempDir('sy-reload-signal-');
  const configPath = path.join(tmp.dir, 'haproxy.cfg');
  const pidFile = path.join(tmp.dir, 'haproxy.pid');
  const adminSocket = path.join(tmp.dir, 'admin.sock');
  let proxy: TestProxy | undefined;

  afterEach(async () => {
    await proxy?.stop();
    proxy = undefined;
  });
  afterAll(() => tmp.remove());

  /** Starts HAProxy `tries` times and reloads it onto a new config as soon as it answers. */
  const reloadRightAfterStart = async (reloader: Reloader, tries: number): Promise<number[]> => {
    const port = await freePort();
    const config = (answer: string) =>
      [
        'global',
        '    master-worker',
        `    stats socket ${adminSocket} mode 600 level admin expose-fd listeners`,
        'defaults',
        '    mode http',
        '    timeout connect 5s',
        '    timeout client 30s',
        '    timeout server 30s',
        'frontend main',
        `    bind 127.0.0.1:${port}`,
        `    http-request return status 200 content-type text/plain string "${answer}"`,
        '',
      ].join('\n');
    const waited: number[] = [];
    for (let i = 0; i < tries; i++) {
      writeFileSync(configPath, config('old'));
      proxy = await TestProxy.start('haproxy', tmp.dir, configPath, pidFile, port);
      const master = await readLivePid(pidFile, 'HAProxy master');
      const before = await childPids(master);
      writeFileSync(configPath, config('new'));
      const t = Date.now();
      // Rejects after 10 s when no new worker comes.
      await reloader.reload();
      waited.push(Date.now() - t);
      const after = await childPids(master);
      expect([...after!].some((p) => !before!.has(p))).toBe(true);
      // An old worker may take a last connection before it hears it is stopping.
      await waitFor('the new config to serve', async () => (await get(port)).body === 'new', 5_000, 20);
      await proxy.stop();
      proxy = undefined;
    }
    return waited;
  };

  it('with --proxy-pid-file: a new worker every time, and the new config serves', async () => {
    const waited = await reloadRightAfterStart(proxyReloader('haproxy', { pidFile })!, 12);
    process.stdout.write(`pid file: ms to a new worker after a reload right after start: ${waited.join(' ')}\n`);
    expect(waited).toHaveLength(12);
  }, 150_000);

  it('with a reloader that sends once (as through Docker): the serving check asks again', async () => {
    // What ContainerSignalReloader does through Docker, without Docker's delay: one SIGUSR2, no wait.
    const once: Reloader = {
      description: 'one SIGUSR2',
      reload: async () => void process.kill(await readLivePid(pidFile, 'HAProxy master'), 'SIGUSR2'),
    };
    const command: Reloader = new CommandReloader('true');
    expect(command.resends).toBeFalsy();
    const waited = await reloadRightAfterStart(new HaproxyServingReloader(once, adminSocket), 12);
    process.stdout.write(`reload once: ms to a serving new worker: ${waited.join(' ')}\n`);
    expect(waited).toHaveLength(12);
  }, 150_000);
});
