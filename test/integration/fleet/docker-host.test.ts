import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from '@jest/globals';
import { DockerHost } from '../../helpers/docker-host.js';
import { waitFor } from '../../helpers/ports.js';

let host: DockerHost | undefined;
afterAll(async () => {
  await host?.close();
});

const body = async (url: string) => (await fetch(url, { signal: AbortSignal.timeout(2000) })).text();

describe('DockerHost (test helper)', () => {
  it('runs containers on its own bridge, survives kill/restart as asked, and close() leaves nothing behind', async () => {
    host = await DockerHost.start({ name: 'selftest', liveRestore: true });
    expect(await host.docker('info', '--format', '{{.Driver}}')).toBe('vfs');
    expect(execFileSync('ip', ['-br', 'addr', 'show', host.bridge]).toString()).toContain(host.gateway);
    const id = await host.run(['--name', 'sy-fleet-selftest', '-e', 'COLOR=blue']);
    const ip = await host.containerIp(id);
    expect(ip.startsWith(host.subnet.replace(/0\/24$/, ''))).toBe(true);
    await waitFor(
      'the container on its bridge IP',
      async () => (await body(`http://${ip}:8080/`)).startsWith('blue'),
      20_000,
      200,
    );

    // live-restore: the container keeps answering while its daemon is SIGKILLed, and is still running after a restart.
    await host.kill();
    expect((await body(`http://${ip}:8080/`)).startsWith('blue')).toBe(true);
    await host.startDaemon();
    expect(await host.runningContainers()).toHaveLength(1);

    await host.kill({ containers: 'die' });
    await expect(body(`http://${ip}:8080/`)).rejects.toThrow();
    await host.startDaemon();
    expect(await host.runningContainers()).toHaveLength(0);

    const { dir, bridge } = host;
    await host.close();
    expect(existsSync(dir)).toBe(false);
    expect(() => execFileSync('ip', ['link', 'show', bridge], { stdio: 'pipe' })).toThrow();
  }, 180_000);
});
