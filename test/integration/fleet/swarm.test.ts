import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { requireDocker, testImage } from '../../helpers/components.js';
import { DockerHost } from '../../helpers/docker-host.js';
import { BuildLeftovers } from '../../helpers/docker.js';
import { freePort, waitFor } from '../../helpers/ports.js';
import { startSecureConsul, type SecureConsul } from '../../helpers/secure-consul.js';

/**
 * compose/swarm-register.yml deployed with `docker stack deploy` on a single-node swarm: a swarm
 * initialised on a dockerd of our own (never the shared one), the register role as a global
 * service talking TLS to a default-deny Consul with the register token from a Swarm secret.
 */
const run = promisify(execFile);
const repo = path.resolve('.');
const image = `switchyard-fleet-swarm:${process.pid}`;
const stack = `sy-swarm-${process.pid}`;
const log = (s: string) => process.stdout.write(`[swarm] ${s}\n`);

let host: DockerHost | undefined;
let consul: SecureConsul | undefined;
let built = false;
let leftovers: BuildLeftovers | undefined;

beforeAll(async () => {
  requireDocker();
  leftovers = await BuildLeftovers.snapshot();
  const t0 = Date.now();
  // The project's own Dockerfile; the classic builder on the host network (no route out from bridges here).
  await run('docker', ['build', '--network', 'host', '-t', image, '.'], {
    cwd: repo,
    env: { ...process.env, DOCKER_BUILDKIT: '0' },
    timeout: 900_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  built = true;
  log(`image built in ${Date.now() - t0} ms`);
  // overlay2: the Switchyard image is ~250 MB, and vfs copies it whole for every layer and container.
  host = await DockerHost.start({ name: 'swarm', images: [testImage(), image], storageDriver: 'overlay2' });
  // Swarm makes a docker_gwbridge bridge in the machine's namespace (172.18.0.0/16 by default);
  // create it first with a name and subnet of this host's own so it cannot meet anyone else's.
  const sub = host.subnet.split('.');
  await host.docker(
    'network',
    'create',
    '--subnet',
    `10.${sub[1]}.${(Number(sub[2]) + 1) % 256}.0/24`,
    '--opt',
    `com.docker.network.bridge.name=${host.bridge}g`,
    '--opt',
    'com.docker.network.bridge.enable_icc=false',
    '--opt',
    'com.docker.network.bridge.enable_ip_masquerade=false',
    'docker_gwbridge',
  );
  let dataPathPort = await freePort();
  while (dataPathPort > 49151) dataPathPort = await freePort();
  await host.docker(
    'swarm',
    'init',
    '--advertise-addr',
    host.gateway,
    '--listen-addr',
    `${host.gateway}:2377`,
    '--data-path-port',
    String(dataPathPort),
  );
  consul = await startSecureConsul({ verifyIncomingHttps: false });
}, 1_200_000);

afterAll(async () => {
  // Every step, even when one fails: the Consul agent, the stack and swarm state, the host, the image.
  await consul?.stop().catch(() => undefined);
  if (host?.running) {
    await host.docker('stack', 'rm', stack).catch(() => undefined);
    await waitFor(
      'stack tasks gone',
      async () => !(await host!.docker('ps', '-q', '--filter', `label=com.docker.stack.namespace=${stack}`)),
      30_000,
      500,
    ).catch(() => undefined);
    await host.docker('swarm', 'leave', '--force').catch(() => undefined);
    await host.docker('network', 'rm', 'docker_gwbridge').catch(() => undefined);
  }
  await host?.close().catch((err: unknown) => log(`closing the docker host: ${String(err)}`));
  if (built) await run('docker', ['rmi', image]).catch(() => undefined);
  if (leftovers) log(await leftovers.removeNew());
}, 600_000);

describe('Swarm: the register role as a global service', () => {
  it('docker stack deploy runs one task per node, and it registers that node’s containers', async () => {
    const token = await consul!.acl.tokenFromPolicyFile('switchyard-register', 'docs/acl/register.hcl');
    const secret = (name: string, value: string) => {
      execFileSync('docker', ['-H', host!.dockerHost, 'secret', 'create', name, '-'], { input: value });
    };
    secret('switchyard-register-token', token);
    secret('switchyard-consul-ca', readFileSync(consul!.pki.caFile, 'utf8'));

    await run('docker', ['-H', host!.dockerHost, 'stack', 'deploy', '-c', 'compose/swarm-register.yml', stack], {
      cwd: repo,
      env: {
        ...process.env,
        SWITCHYARD_IMAGE: image,
        CONSUL_HTTP_ADDR: consul!.agent.url,
        DOCKER_SOCKET: host!.socket,
        // The image's HEALTHCHECK reads /healthz here; Swarm calls the task Running once it passes.
        SWITCHYARD_HTTP_LISTEN: `127.0.0.1:${await freePort()}`,
      },
      timeout: 120_000,
    });
    const mode = await host!.docker('service', 'inspect', `${stack}_register`, '--format', '{{json .Spec.Mode}}');
    expect(mode).toContain('Global');
    const t0 = Date.now();
    await waitFor(
      'the global task running on the node',
      async () =>
        (await host!.docker('service', 'ps', `${stack}_register`, '--format', '{{.CurrentState}}')).startsWith(
          'Running',
        ),
      240_000,
      500,
    ).catch(async (err: unknown) => {
      log(await host!.docker('service', 'ps', '--no-trunc', `${stack}_register`).catch((e: Error) => e.message));
      log(await host!.docker('service', 'logs', '--raw', `${stack}_register`).catch((e: Error) => e.message));
      throw err;
    });
    log(`global task running ${Date.now() - t0} ms after docker stack deploy`);

    await host!.run([
      '--name',
      `sy-swarm-app-${process.pid}`,
      '-l',
      'color=blue',
      '-l',
      'SERVICE_NAME=swarmweb',
      '-p',
      '127.0.0.1::8080',
    ]);
    const entries = await waitFor(
      'swarmweb registered by the swarm task',
      async () => {
        const e = await consul!.agent.api<{ ServiceMeta: Record<string, string>; ServicePort: number }[]>(
          'GET',
          '/v1/catalog/service/swarmweb',
          consul!.acl.managementToken,
        );
        return e.length > 0 ? e : false;
      },
      60_000,
      500,
    ).catch(async (err: unknown) => {
      log(await host!.docker('service', 'logs', '--raw', `${stack}_register`).catch((e: Error) => e.message));
      throw err;
    });
    expect(entries[0]!.ServiceMeta.switchyard_owner).toBe(consul!.agent.nodeName);
    expect(entries[0]!.ServiceMeta.color).toBe('blue');
  }, 420_000);
});
