/**
 * The Switchyard side of the cost benchmarks (compare-consul-template, daemon-cost): colored app
 * containers on the default bridge, `switchyard run` (register + render) with the shipped HAProxy
 * template, and the HAProxy it drives, all owned by a Stack.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { META_COLOR } from '../../src/registrar/meta-keys.js';
import { appArgs, type TestContainers } from '../../test/helpers/docker.js';
import { imageBaseName } from '../../src/registrar/service-definitions.js';
import { findBinary, freePort, probe, waitFor, type Owned, type Stack } from './stack.js';

export const IMAGE = process.env.SWITCHYARD_TEST_IMAGE ?? 'switchyard-test-app:latest';
/** The registrar names a service without SERVICE_NAME after its image (docs/registering.md). */
export const SERVICE = imageBaseName(IMAGE);
export const KV_PREFIX = 'switchyard';

/**
 * `docker run` of the test app as `<tag>-<version>`, with the bench's own color label and a 1 s HTTP
 * check; `containers` removes them (removeAll()) when the bench ends.
 */
export function appRunner(containers: TestContainers, tag: string, colorLabel: string) {
  return (color: string, version: string, extra: string[] = []): Promise<string> =>
    containers.run(
      ['--name', `${tag}-${version}`, ...appArgs({ color, colorLabel }), '-e', `VERSION=${version}`, ...extra],
      { image: IMAGE },
    );
}

/** Passing instances of SERVICE in Consul, by color. */
export async function passingByColor(consulUrl: string): Promise<Record<string, number>> {
  const entries = (await (await fetch(`${consulUrl}/v1/health/service/${SERVICE}?passing=1`)).json()) as Array<{
    Service: { Meta: Record<string, string> | null };
  }>;
  const by: Record<string, number> = {};
  for (const e of entries) {
    const c = e.Service.Meta?.[META_COLOR] ?? '';
    by[c] = (by[c] ?? 0) + 1;
  }
  return by;
}

/** Writes the service's blue-green state as `consul kv put` would. */
export async function putLive(consulUrl: string, live: string): Promise<void> {
  const r = await fetch(`${consulUrl}/v1/kv/${KV_PREFIX}/services/${SERVICE}/state`, {
    method: 'PUT',
    body: JSON.stringify({ live }),
  });
  if (!r.ok) throw new Error(`writing the state key: HTTP ${r.status}`);
}

export interface SwitchyardSide {
  daemon: Owned;
  proxy: Owned;
  mainPort: number;
  metricsUrl: string;
  proxyPidFile: string;
}

export interface SwitchyardSideOptions {
  /** Who this daemon is (its --node-id) and the color label its containers carry. */
  tag: string;
  colorLabel: string;
  consulAddr: string;
  /** dist/src/cli/main.js of the build to run. */
  cli: string;
  /** Flags for its node (e.g. --max-semi-space-size=1). */
  nodeOptions?: readonly string[];
  /** The live color to wait for once the proxy runs. */
  live: string;
}

/**
 * Starts `switchyard run` and, once it rendered, HAProxy on its config; resolves when `live` is served
 * and /healthz is 200. Everything is owned by `stack`.
 */
export async function startSwitchyardSide(stack: Stack, o: SwitchyardSideOptions): Promise<SwitchyardSide> {
  const haproxy = findBinary('haproxy', 'SWITCHYARD_HAPROXY_BIN');
  const mainPort = await freePort();
  const httpPort = await freePort();
  const config = path.join(stack.dir, `haproxy-${o.tag}.cfg`);
  const proxyPidFile = path.join(stack.dir, `haproxy-${o.tag}.pid`);
  const env = { ...process.env, CONSUL_HTTP_ADDR: o.consulAddr, SWITCHYARD_LOG_FORMAT: 'json' };
  const params = [
    'bind=127.0.0.1',
    'statsPort=0',
    'previewPort=0',
    `mainPort=${mainPort}`,
    'log=none',
    `adminSocket=${path.join(stack.dir, `admin-${o.tag}.sock`)}`,
  ];
  const daemon = stack.spawn(
    `switchyard run (${o.tag})`,
    process.execPath,
    [
      ...(o.nodeOptions ?? []),
      o.cli,
      'run',
      '--node-id',
      o.tag,
      '--color-label',
      o.colorLabel,
      '--internal',
      '--services',
      SERVICE,
      '--proxy',
      'haproxy',
      '--proxy-binary',
      haproxy,
      '--config',
      config,
      '--proxy-pid-file',
      proxyPidFile,
      ...params.flatMap((p) => ['--template-param', p]),
      '--retry-delay',
      '1s',
      '--wait',
      '250ms:1s',
      '--http-listen',
      `127.0.0.1:${httpPort}`,
      '--log-format',
      'json',
    ],
    env,
  );
  await waitFor(
    `${o.tag}: the first rendered config`,
    () => {
      if (daemon.exited) throw new Error(`switchyard run exited: ${daemon.output.slice(-2000)}`);
      return existsSync(config);
    },
    60_000,
    100,
  );
  const proxy = stack.spawn(`haproxy (${o.tag})`, haproxy, ['-W', '-f', config, '-p', proxyPidFile]);
  await waitFor(
    `${o.tag}: ${o.live} served through HAProxy`,
    async () => {
      if (proxy.exited) throw new Error(`haproxy exited: ${proxy.output.slice(-2000)}`);
      return (await probe(mainPort, false)).color === o.live;
    },
    60_000,
    100,
  );
  await waitFor(
    `${o.tag}: the daemon healthy (/healthz 200)`,
    async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).status === 200,
    30_000,
    200,
  );
  return { daemon, proxy, mainPort, metricsUrl: `http://127.0.0.1:${httpPort}/metrics`, proxyPidFile };
}
