import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { requireDocker, testImage } from '../../helpers/components.js';
import { TestConsulAgent } from '../../helpers/consul-agent.js';
import { TestContainers } from '../../helpers/docker.js';
import { waitFor } from '../../helpers/ports.js';
import { CLI, requireBuiltCli, switchyard } from '../switch/cli.js';

/**
 * Guarding the live color with a real dockerd, Consul and `switchyard run` (register role): a
 * container of the live color with another image is registered held in maintenance, with the
 * reason in the log and in `status`; the same image scales the live color; the label allows it.
 * A color label key of its own keeps other tests' containers (same dockerd) out.
 */
const LABEL = `sy-guard-${process.pid}-color`;
const OTHER_IMAGE = `sy-rollouts-guard-${process.pid}:2`;

describe('guarding the live color', () => {
  let consul: TestConsulAgent;
  let daemon: ChildProcess;
  let log = '';
  const containers = new TestContainers();
  let env: Record<string, string>;

  const app = (name: string, image: string, extra: string[] = []) =>
    containers.run(
      [
        '--name',
        `sy-guard-${name}-${process.pid}`,
        '-l',
        `${LABEL}=blue`,
        '-l',
        'SERVICE_NAME=app',
        '-p',
        '127.0.0.1::8080',
        ...extra,
      ],
      { image },
    );
  type Instance = { id: string; color: string; maintenance: boolean; passing: boolean; why?: string };
  const instances = async (): Promise<Instance[]> => {
    const r = await switchyard(['status', '--json', '--service', 'app', '--colors', 'blue'], env);
    const s = JSON.parse(r.stdout) as { services: { colors: { instances: Instance[] }[] }[] };
    return s.services[0]?.colors.flatMap((c) => c.instances) ?? [];
  };
  const byName = async (name: string) => (await instances()).find((i) => i.id.includes(`sy-guard-${name}-`));

  beforeAll(async () => {
    requireBuiltCli();
    requireDocker();
    await containers.docker('tag', testImage(), OTHER_IMAGE);
    consul = await TestConsulAgent.start();
    env = { CONSUL_HTTP_ADDR: consul.address };
    daemon = spawn(
      process.execPath,
      [
        CLI,
        'run',
        '--no-render',
        '--no-rollouts',
        '--color-label',
        LABEL,
        '--node-id',
        `guard-${process.pid}`,
        '--http-listen',
        'off',
        '--log-format',
        'text',
      ],
      { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    daemon.stdout!.on('data', (b: Buffer) => (log += b.toString()));
    daemon.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  }, 60_000);

  afterAll(async () => {
    if (daemon && daemon.exitCode === null) {
      const exited = new Promise((r) => daemon.once('exit', r));
      daemon.kill('SIGTERM');
      await exited;
    }
    await containers.removeAll();
    await containers.docker('rmi', OTHER_IMAGE).catch(() => undefined);
    await consul?.stop();
  });

  it('holds a different image out of the live color, lets the same image scale it, and the label allow it', async () => {
    await app('b1', testImage());
    await waitFor('b1 registered', async () => (await byName('b1')) !== undefined, 30_000, 200);
    await app('b2', OTHER_IMAGE);
    await waitFor('b2 held', async () => (await byName('b2'))?.maintenance === true, 30_000, 200);
    const held = (await byName('b2'))!;
    expect(held.passing).toBe(false);
    expect(held.why).toContain(
      `held out of the live color blue of app: container sy-guard-b2-${process.pid}'s image ${OTHER_IMAGE} differs from the live instances' ${testImage()}`,
    );
    expect(log).toContain(`image ${OTHER_IMAGE} differs from the live instances'`);
    const status = await switchyard(['status', '--service', 'app', '--colors', 'blue'], env);
    expect(status.stdout).toContain(`image ${OTHER_IMAGE} differs`);

    await app('b3', testImage());
    await waitFor('b3 registered', async () => (await byName('b3')) !== undefined, 30_000, 200);
    await new Promise((r) => setTimeout(r, 1000));
    expect((await byName('b3'))?.maintenance).toBe(false);

    await app('b4', OTHER_IMAGE, ['-l', 'switchyard.allow-live=true']);
    await waitFor('b4 registered', async () => (await byName('b4')) !== undefined, 30_000, 200);
    await new Promise((r) => setTimeout(r, 1000));
    expect((await byName('b4'))?.maintenance).toBe(false);
  }, 90_000);
});
