import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConsulHttpClient } from '../../../src/consul/consul-http-client.js';
import type { DockerClient, DockerEvent, EventStreamOptions } from '../../../src/docker/docker-client.js';
import { DockerodeDockerClient } from '../../../src/docker/dockerode-docker-client.js';
import { Metrics } from '../../../src/http/metrics.js';
import { createLogger } from '../../../src/log/logger.js';
import { Registrar, type RegistrarOptions } from '../../../src/registrar/registrar.js';
import { ConsulLiveColors } from '../../../src/switch/live-colors.js';
import { formatStatus } from '../../../src/switch/status-format.js';
import { SwitchControl } from '../../../src/switch/switch-control.js';
import { requireDocker, testImage } from '../../helpers/components.js';
import { TestConsulAgent } from '../../helpers/consul-agent.js';
import { TestContainers } from '../../helpers/docker.js';
import { waitFor } from '../../helpers/ports.js';

/**
 * The registrar in-process against a real dockerd and a real Consul agent. A color label key of its
 * own keeps other tests' containers (same dockerd) out of this test's registrations.
 */
const COLOR = `sytest-${process.pid}-color`;
const NODE = `sy-reg-${process.pid}`;
const KV_PREFIX = `switchyard-it-${process.pid}`;

interface CatalogEntry {
  ServiceID: string;
  ServiceName: string;
  ServiceTags: string[];
  ServiceAddress: string;
  ServicePort: number;
  ServiceMeta: Record<string, string>;
}

interface LogLine {
  level: string;
  message: string;
  container?: string;
  containerId?: string;
  label?: string;
}

/** The real adapter, with a handle to cut the current event connection as a network blip would. */
class CuttableDocker implements DockerClient {
  private cut?: AbortController;
  readonly replayed: DockerEvent[] = [];
  subscriptions = 0;
  constructor(private readonly inner: DockerodeDockerClient) {}
  /** While set, a reconnect waits: the test decides how long the gap lasts. */
  hold: Promise<void> | undefined;
  async *events(options: EventStreamOptions): AsyncIterable<DockerEvent> {
    await this.hold;
    this.cut = new AbortController();
    this.subscriptions++;
    const connectedAt = BigInt(Date.now()) * 1_000_000n;
    const isReplay = this.subscriptions > 1;
    for await (const e of this.inner.events({
      ...options,
      signal: AbortSignal.any([options.signal, this.cut.signal]),
    })) {
      if (isReplay && e.timeNano < connectedAt) this.replayed.push(e);
      yield e;
    }
  }
  cutStream(): void {
    this.cut?.abort();
  }
  listContainers = () => this.inner.listContainers();
  inspectContainer = (id: string) => this.inner.inspectContainer(id);
  signalContainer = (id: string, s: string) => this.inner.signalContainer(id, s);
  exec = (id: string, cmd: string[]) => this.inner.exec(id, cmd);
  close = () => this.inner.close();
}

let agent: TestConsulAgent;
const containers = new TestContainers();
const lines: LogLine[] = [];
let consul: ConsulHttpClient;
let docker: CuttableDocker;
let registrar: Registrar;

async function catalog(name: string): Promise<CatalogEntry[]> {
  return agent.get<CatalogEntry[]>(`/v1/catalog/service/${name}`);
}

async function ownedIds(): Promise<string[]> {
  const services =
    await agent.get<Record<string, { ID: string; Meta: Record<string, string> | null }>>('/v1/agent/services');
  return Object.values(services)
    .filter((s) => s.Meta?.switchyard_owner === NODE)
    .map((s) => s.ID)
    .sort();
}

beforeAll(async () => {
  requireDocker();
  agent = await TestConsulAgent.start();
  consul = new ConsulHttpClient({ address: agent.address });
  const stream = new PassThrough();
  stream.on('data', (b: Buffer) => {
    for (const l of b.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as LogLine);
  });
  const logger = createLogger({ json: true, stream, level: 'debug' });
  docker = new CuttableDocker(new DockerodeDockerClient({ logger }));
  const options: RegistrarOptions = {
    nodeId: NODE,
    colorLabel: COLOR,
    selection: 'labelled',
    extraTags: ['it'],
    internal: false,
    resyncMs: 2_000,
    agentCheckMs: 500,
    deregisterOnExit: false,
  };
  registrar = new Registrar(
    {
      docker,
      consul,
      logger,
      metrics: new Metrics({ defaultMetrics: false }),
      liveColors: new ConsulLiveColors(consul, KV_PREFIX),
    },
    options,
  );
  await registrar.start();
  await registrar.ready;
}, 60_000);

afterAll(async () => {
  await registrar?.close();
  await consul?.close();
  await containers.removeAll();
  await agent?.stop();
});

describe('registrar against real dockerd and Consul', () => {
  it('a labelled container appears in the catalog with name, tags, Meta, address and port; it leaves when stopped', async () => {
    const name = `sy-reg-web-${process.pid}`;
    const id = await containers.run([
      '--name',
      name,
      '-l',
      `${COLOR}=blue`,
      '-l',
      'SERVICE_NAME=shop',
      '-l',
      'SERVICE_TAGS=v1',
      '-e',
      'COLOR=blue',
      '-p',
      '127.0.0.1::8080',
    ]);
    const hostPort = Number((await containers.docker('port', id, '8080/tcp')).split(':').pop());
    const [entry] = await waitFor('shop in the catalog', async () => {
      const c = await catalog('shop');
      return c.length === 1 ? c : undefined;
    });
    expect(entry).toMatchObject({
      ServiceID: `${NODE}:${name}:8080`,
      ServiceName: 'shop',
      ServiceTags: ['blue', 'v1', 'it'],
      ServiceAddress: '127.0.0.1',
      ServicePort: hostPort,
      ServiceMeta: {
        switchyard_owner: NODE,
        container_id: id,
        container_name: name,
        color: 'blue',
        image: expect.stringContaining('switchyard-test-app'),
      },
    });
    // The address and port really reach the container.
    const body = await (await fetch(`http://${entry!.ServiceAddress}:${entry!.ServicePort}/`)).text();
    expect(body).toMatch(/^blue /);

    const stopped = Date.now();
    await containers.docker('stop', '-t', '1', id);
    await waitFor('shop gone', async () => (await catalog('shop')).length === 0, 10_000);
    expect(Date.now() - stopped).toBeLessThan(5_000);
    await containers.remove(id);
  }, 60_000);

  it('live-color guard: another image into the live color is held out (maintenance naming both images); the same image scales it; a switch releases it', async () => {
    const service = `guarded-${process.pid}`;
    const labels = ['-l', `${COLOR}=blue`, '-l', `SERVICE_NAME=${service}`, '-p', '127.0.0.1::8080'];
    // A truly different image: a commit has its own image ID (a docker tag would share the ID).
    const v2 = `sy-guard-app-${process.pid}:v2`;
    const scratch = await containers.create(['--name', `sy-reg-guard-img-${process.pid}`]);
    await containers.docker('commit', scratch, v2);
    await containers.remove(scratch);
    const passing = async () =>
      (await agent.get<Array<{ Service: { ID: string } }>>(`/v1/health/service/${service}?passing=true`)).map(
        (e) => e.Service.ID,
      );
    const started: string[] = [];
    try {
      const a = `sy-reg-guard-a-${process.pid}`;
      started.push(await containers.run(['--name', a, ...labels]));
      // No switch yet: blue is live by the default rule once it has a passing instance.
      await waitFor('blue serving', async () => (await passing()).length === 1, 15_000);

      const b = `sy-reg-guard-b-${process.pid}`;
      const bId = `${NODE}:${b}:8080`;
      started.push(await containers.run(['--name', b, ...labels], { image: v2 }));
      const checksOf = async (id: string) =>
        (
          await agent.get<
            Array<{ Service: { ID: string }; Checks: Array<{ CheckID: string; Notes: string; Status: string }> }>
          >(`/v1/health/service/${service}`)
        ).find((e) => e.Service.ID === id)?.Checks ?? [];
      const maint = await waitFor('b held', async () =>
        (await checksOf(bId)).find((c) => c.CheckID === `_service_maintenance:${bId}`),
      );
      expect(maint.Notes).toBe(
        `switchyard: held out of the live color: container ${b} runs ${v2}, live blue runs ${testImage()}`,
      );
      expect((await checksOf(bId)).find((c) => c.CheckID === `${bId}:live-guard`)?.Status).toBe('critical');
      expect(lines.find((l) => l.message.startsWith('held') && l.container === b)).toMatchObject({
        level: 'warn',
        message: expect.stringContaining(`container ${b} runs ${v2}, live blue runs ${testImage()}`),
      });

      // `switchyard status` says why.
      const control = new SwitchControl({ consul, kvPrefix: KV_PREFIX, logger: createLogger({ level: 'error' }) });
      const table = formatStatus(await control.status(service), new Date());
      expect(table.split('\n').find((l) => l.includes(bId))).toContain(`maintenance (${maint.Notes})`);

      // The live image scales the live color.
      const c = `sy-reg-guard-c-${process.pid}`;
      started.push(await containers.run(['--name', c, ...labels]));
      await waitFor('c serving', async () => (await passing()).includes(`${NODE}:${c}:8080`), 15_000);
      expect(await passing()).not.toContain(bId);

      // switch green: blue is no longer live, so b may join it (on the preview side).
      await agent.put(`/v1/kv/${KV_PREFIX}/services/${service}/state`, { live: 'green', previous: 'blue' });
      await waitFor('b released', async () => (await passing()).includes(bId), 10_000);
      expect((await checksOf(bId)).map((k) => k.CheckID)).not.toContain(`${bId}:live-guard`);
      expect(lines.some((l) => l.message.startsWith('released') && l.container === b)).toBe(true);
    } finally {
      for (const id of started) await containers.remove(id);
      await containers.docker('rmi', v2).catch(() => undefined);
    }
  }, 90_000);

  it('live-color guard: live instances registered by another host count (read from the catalog, not the local Docker)', async () => {
    const service = `guarded-remote-${process.pid}`;
    // Another Docker host's Switchyard registered the live blue instance, on its own agent.
    await agent.put('/v1/agent/service/register', {
      ID: `other-host:${service}-blue-1:8080`,
      Name: service,
      Tags: ['blue'],
      Address: '10.9.9.9',
      Port: 8080,
      Meta: { color: 'blue', image: 'shop/web:9', image_id: 'sha256:9999', switchyard_owner: 'other-host' },
    });
    const name = `sy-reg-guard-remote-${process.pid}`;
    const id = await containers.run([
      '--name',
      name,
      '-l',
      `${COLOR}=blue`,
      '-l',
      `SERVICE_NAME=${service}`,
      '-p',
      '127.0.0.1::8080',
    ]);
    try {
      const sid = `${NODE}:${name}:8080`;
      const notes = await waitFor('held', async () => {
        const checks = await agent.get<Record<string, { CheckID: string; Notes: string }>>('/v1/agent/checks');
        return checks[`_service_maintenance:${sid}`]?.Notes;
      });
      expect(notes).toBe(
        `switchyard: held out of the live color: container ${name} runs ${testImage()}, live blue runs shop/web:9`,
      );
    } finally {
      await containers.remove(id);
      await agent.put(`/v1/agent/service/deregister/other-host:${service}-blue-1:8080`);
    }
  }, 60_000);

  it('docker stop drains first: the instance stops passing at SIGTERM, while the container still runs, then leaves', async () => {
    const name = `sy-reg-drain-${process.pid}`;
    // A well-behaved app: on SIGTERM it keeps serving for 2 s (its in-flight requests), then exits.
    const id = await containers.runGraceful(
      ['--name', name, '-l', `${COLOR}=blue`, '-l', 'SERVICE_NAME=drainme', '-p', '127.0.0.1::8080'],
      2,
    );
    const passing = async () => (await agent.get<unknown[]>('/v1/health/service/drainme?passing=true')).length;
    await waitFor('drainme passing', async () => (await passing()) === 1);
    const stopping = containers.docker('stop', '-t', '10', id);
    const t0 = Date.now();
    await waitFor('out of rotation', async () => (await passing()) === 0, 2_000, 20);
    const drainedAfter = Date.now() - t0;
    expect((await containers.docker('inspect', '-f', '{{.State.Running}}', id)).trim()).toBe('true');
    expect((await catalog('drainme')).length).toBe(1);
    await stopping;
    await waitFor('deregistered after exit', async () => (await catalog('drainme')).length === 0, 5_000);
    expect(drainedAfter).toBeLessThan(1_000);
    expect(lines.some((l) => l.container === name && l.message.startsWith('draining'))).toBe(true);
    await containers.remove(id);
  }, 60_000);

  it('hostile labels: that container is skipped with one warning naming it and the label; others are registered', async () => {
    const bad = `sy-reg-bad-${process.pid}`;
    const good = `sy-reg-good-${process.pid}`;
    await containers.run([
      '--name',
      bad,
      '-l',
      `${COLOR}=blue`,
      '-l',
      'SERVICE_NAME=web;server evil',
      '-p',
      '127.0.0.1::8080',
    ]);
    await containers.run([
      '--name',
      good,
      '-l',
      `${COLOR}=green`,
      '-l',
      'SERVICE_NAME=goodsvc',
      '-p',
      '127.0.0.1::8080',
    ]);
    await waitFor('goodsvc registered', async () => (await catalog('goodsvc')).length === 1);
    const warning = await waitFor('the warning', () => lines.find((l) => l.level === 'warn' && l.container === bad));
    expect(warning.label).toBe('label SERVICE_NAME');
    expect(warning.message).toContain('SERVICE_NAME="web;server evil" is not a valid service name');
    expect((await ownedIds()).some((i) => i.includes(bad))).toBe(false);
  }, 60_000);

  it('the Consul agent restarted with its state lost → everything registered again within the resync interval', async () => {
    const name = `sy-reg-keep-${process.pid}`;
    await containers.run(['--name', name, '-l', `${COLOR}=blue`, '-l', 'SERVICE_NAME=keep', '-p', '127.0.0.1::8080']);
    await waitFor('keep registered', async () => (await catalog('keep')).length === 1);
    const before = await ownedIds();
    await agent.restart();
    const restarted = Date.now();
    await waitFor('re-registered', async () => (await ownedIds()).join() === before.join(), 10_000, 100);
    expect(Date.now() - restarted).toBeLessThan(2_000 + 1_000);
  }, 60_000);

  it('Docker HEALTHCHECK status reaches Consul: critical while starting or unhealthy, passing when healthy', async () => {
    const name = `sy-reg-hc-${process.pid}`;
    const id = await containers.run([
      '--name',
      name,
      '-l',
      `${COLOR}=blue`,
      '-l',
      'SERVICE_NAME=hc',
      '-p',
      '127.0.0.1::8080',
      '--health-cmd',
      '/bin/busybox test -f /tmp/ok',
      '--health-interval',
      '500ms',
      '--health-retries',
      '1',
    ]);
    const checkId = `${NODE}:${name}:8080:docker-health`;
    const status = async () => {
      const checks = await agent.get<Record<string, { Status: string }>>('/v1/agent/checks');
      return checks[checkId]?.Status;
    };
    await waitFor('registered critical', async () => (await status()) === 'critical', 10_000);
    await containers.docker('exec', id, '/bin/busybox', 'touch', '/tmp/ok');
    await waitFor('passing once healthy', async () => (await status()) === 'passing', 10_000);
    await containers.docker('exec', id, '/bin/busybox', 'rm', '/tmp/ok');
    await waitFor('critical once unhealthy', async () => (await status()) === 'critical', 10_000);
    await containers.remove(id);
  }, 60_000);

  it('the event stream cut → reconnect replays the missed events and nothing is lost', async () => {
    const names = [0, 1, 2].map((i) => `sy-reg-gap-${process.pid}-${i}`);
    const subs = docker.subscriptions;
    let release: () => void = () => undefined;
    docker.hold = new Promise<void>((r) => (release = r));
    docker.cutStream();
    // While disconnected: start three containers.
    const ids = await Promise.all(
      names.map((n) =>
        containers.run(['--name', n, '-l', `${COLOR}=blue`, '-l', 'SERVICE_NAME=gap', '-p', '127.0.0.1::8080']),
      ),
    );
    release();
    docker.hold = undefined;
    await waitFor('reconnected', () => docker.subscriptions > subs, 10_000);
    await waitFor('all three registered', async () => (await catalog('gap')).length === 3, 10_000);
    // The replay (since = last event seen) delivered the start events that happened during the gap.
    await waitFor(
      'replayed',
      () => docker.replayed.filter((e) => e.action === 'start' && ids.includes(e.id)).length === 3,
      5_000,
    );
    const replayedStarts = docker.replayed.filter((e) => e.action === 'start' && ids.includes(e.id));
    expect(replayedStarts.length).toBe(3);
    await Promise.all(ids.map((id) => containers.remove(id)));
    await waitFor('all three gone', async () => (await catalog('gap')).length === 0, 10_000);
  }, 60_000);
});
