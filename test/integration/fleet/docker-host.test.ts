import { afterAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { DockerHost } from '../../helpers/docker-host.js';

let host: DockerHost | undefined;
afterAll(async () => {
  await host?.close();
});

describe('DockerHost (test helper)', () => {
  it('starts its own dockerd on its own bridge, and close() leaves nothing behind', async () => {
    host = await DockerHost.start({ name: 'selftest', images: [] });
    expect(await host.docker('info', '--format', '{{.Driver}}')).toBe('vfs');
    expect(execFileSync('ip', ['-br', 'addr', 'show', host.bridge]).toString()).toContain(host.gateway);
    const { dir, bridge } = host;
    await host.close();
    expect(existsSync(dir)).toBe(false);
    expect(() => execFileSync('ip', ['link', 'show', bridge], { stdio: 'pipe' })).toThrow();
  }, 120_000);
});
