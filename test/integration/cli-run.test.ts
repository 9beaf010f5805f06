import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { requireDocker } from '../helpers/components.js';
import { TestConsulAgent } from '../helpers/consul-agent.js';
import { TestContainers } from '../helpers/docker.js';
import { DockerSocketProxy } from '../helpers/docker-socket-proxy.js';
import { freePort, waitFor } from '../helpers/ports.js';

/**
 * `switchyard run` as a real process (the compiled CLI, `npm run build`), against a real dockerd
 * and Consul agent: exit codes, signals, and what survives a SIGKILL.
 */
const MAIN = path.resolve('dist/src/cli/main.js');
const COLOR = `sytest-${process.pid}-clicolor`;
const NODE = `sy-cli-${process.pid}`;

interface LogLine {
  level: string;
  message: string;
  [k: string]: unknown;
}

class Switchyard {
  readonly lines: LogLine[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  constructor(readonly child: ChildProcess) {
    let buf = '';
    child.stdout?.on('data', (b: Buffer) => {
      buf += b.toString();
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      for (const l of parts) if (l.trim()) this.lines.push(JSON.parse(l) as LogLine);
    });
    child.stderr?.on('data', (b: Buffer) => (this.stderr += b.toString()));
    // 'close', not 'exit': at 'exit' the child's last lines may still sit unread in the pipe.
    this.exited = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  }
  has(re: RegExp): boolean {
    return this.lines.some((l) => re.test(l.message));
  }
}

const procs: Switchyard[] = [];
let agent: TestConsulAgent;
const containers = new TestContainers();

function switchyard(args: string[], env: Record<string, string> = {}): Switchyard {
  const child = spawn(process.execPath, [MAIN, 'run', ...args], {
    // Register role only: these tests must not write or reload any proxy config on this machine.
    env: {
      ...process.env,
      CONSUL_HTTP_ADDR: agent.address,
      SWITCHYARD_HTTP_LISTEN: 'off',
      SWITCHYARD_RENDER: 'false',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const s = new Switchyard(child);
  procs.push(s);
  return s;
}

const daemonArgs = (...extra: string[]) => [
  '--node-id',
  NODE,
  '--color-label',
  COLOR,
  '--resync',
  '2s',
  '--log-level',
  'debug',
  ...extra,
];

async function owned(): Promise<Record<string, string>> {
  const services =
    await agent.get<Record<string, { ID: string; Meta: Record<string, string> | null }>>('/v1/agent/services');
  const out: Record<string, string> = {};
  for (const s of Object.values(services))
    if (s.Meta?.switchyard_owner === NODE) out[s.ID] = s.Meta.container_name ?? '';
  return out;
}

async function runApp(name: string): Promise<string> {
  return containers.run(['--name', name, '-l', `${COLOR}=blue`, '-l', 'SERVICE_NAME=cliapp', '-p', '127.0.0.1::8080']);
}

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build before the integration tests`);
  requireDocker();
  agent = await TestConsulAgent.start();
}, 60_000);

afterEach(async () => {
  // A test that failed half-way must not leave a daemon behind: kill only the processes we started.
  for (const p of procs.splice(0))
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
});

afterAll(async () => {
  await containers.removeAll();
  await agent?.stop();
});

describe('switchyard run (process)', () => {
  it('a bad flag or env value → exit 2 with one line naming the option', async () => {
    const flag = switchyard(['--resync', '5']);
    expect((await flag.exited).code).toBe(2);
    expect(flag.stderr).toContain("option '--resync <duration>' argument '5' is invalid");

    const env = switchyard([], { SWITCHYARD_IP: 'not-an-ip' });
    expect((await env.exited).code).toBe(2);
    expect(env.stderr).toMatch(/--ip <address>.*SWITCHYARD_IP.*expected an IPv4 or IPv6 address/);

    const both = switchyard(['--explicit', '--all-published']);
    expect((await both.exited).code).toBe(2);
    expect(both.stderr).toContain('--explicit and --all-published contradict each other');
  }, 30_000);

  it('SIGTERM → exit 0 within the bound, registrations kept; --deregister-on-exit removes them', async () => {
    const name = `sy-cli-keep-${process.pid}`;
    const keepId = await runApp(name);
    const s = switchyard(daemonArgs());
    await waitFor('registered', async () => Object.values(await owned()).includes(name), 15_000);
    const t0 = Date.now();
    s.child.kill('SIGTERM');
    const { code } = await s.exited;
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(s.has(/SIGTERM received; stopping/)).toBe(true);
    expect(Object.values(await owned())).toContain(name);

    const d = switchyard(daemonArgs('--deregister-on-exit'));
    await waitFor('started', () => d.has(/reconciled \(start\)/), 15_000);
    expect(Object.values(await owned())).toContain(name);
    d.child.kill('SIGTERM');
    expect((await d.exited).code).toBe(0);
    expect(await owned()).toEqual({});
    // The shared dockerd also runs other tests' containers with a SERVICE_NAME, which this daemon
    // registers too, so the count is at least ours, not exactly 1.
    // On failure, the matcher prints every line the daemon logged.
    expect(d.lines.map((l) => l.message)).toContainEqual(
      expect.stringMatching(/^deregistered all [1-9]\d* services this node owns/),
    );
    await containers.remove(keepId);
  }, 60_000);

  it('SIGKILLed while a container is removed, then restarted → the ghost is gone, the survivor stays', async () => {
    const doomed = `sy-cli-doomed-${process.pid}`;
    const survivor = `sy-cli-survivor-${process.pid}`;
    const doomedId = await runApp(doomed);
    await runApp(survivor);
    const s1 = switchyard(daemonArgs());
    await waitFor(
      'both registered',
      async () => {
        const names = Object.values(await owned());
        return names.includes(doomed) && names.includes(survivor);
      },
      15_000,
    );
    s1.child.kill('SIGKILL');
    await s1.exited;
    await containers.remove(doomedId);
    expect(Object.values(await owned())).toContain(doomed); // the ghost, left by the dead daemon

    const s2 = switchyard(daemonArgs());
    await waitFor('ghost removed at start', async () => !Object.values(await owned()).includes(doomed), 15_000);
    expect(Object.values(await owned())).toContain(survivor);
    await waitFor('the log line', () =>
      s2.lines.some((l) => /^deregistered cliapp/.test(l.message) && l.container === doomed),
    );
    s2.child.kill('SIGTERM');
    expect((await s2.exited).code).toBe(0);
  }, 60_000);

  it('a container stopping when Switchyard is SIGKILLed and restarted stays drained until it exits, then is deregistered', async () => {
    const name = `sy-cli-drain-${process.pid}`;
    // The app keeps serving for 12 s after SIGTERM (its grace period), then exits.
    const id = await containers.runGraceful(
      ['--name', name, '-l', `${COLOR}=blue`, '-l', 'SERVICE_NAME=clidrain', '-p', '127.0.0.1::8080'],
      12,
    );
    const serviceId = `${NODE}:${name}:8080`;
    const inMaintenance = async () => {
      const checks = await agent.get<Record<string, { Notes: string }>>('/v1/agent/checks');
      return checks[`_service_maintenance:${serviceId}`]?.Notes;
    };
    const passing = async () => (await agent.get<unknown[]>('/v1/health/service/clidrain?passing=true')).length;
    const running = async () => (await containers.docker('inspect', '-f', '{{.State.Running}}', id)).trim() === 'true';

    const s1 = switchyard(daemonArgs());
    await waitFor('passing', async () => (await passing()) === 1, 15_000);
    const stopping = containers.docker('stop', '-t', '30', id);
    const stopSent = Date.now();
    await waitFor('drained', async () => (await inMaintenance()) !== undefined, 5_000, 20);
    expect(await inMaintenance()).toMatch(/^switchyard: container is stopping \(drain\) since /);
    s1.child.kill('SIGKILL');
    await s1.exited;
    // Past the 2 s of events a start replays: the new process cannot see the kill event itself.
    await new Promise((r) => setTimeout(r, 2_500));

    const s2 = switchyard(daemonArgs());
    await waitFor('restarted and reconciled', () => s2.has(/reconciled \(start\)/), 15_000);
    expect(s2.lines.some((l) => l.container === name && /^still draining: /.test(l.message))).toBe(true);
    // Through several resyncs (2 s) while the container still runs: in maintenance, never passing.
    let checked = 0;
    while (Date.now() - stopSent < 9_000) {
      expect(await running()).toBe(true);
      expect(await inMaintenance()).toMatch(/^switchyard: container is stopping \(drain\) since /);
      expect(await passing()).toBe(0);
      checked++;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(checked).toBeGreaterThan(5);
    await stopping;
    await waitFor('deregistered after exit', async () => !(serviceId in (await owned())), 5_000);
    expect(s2.has(/^back in rotation/)).toBe(false);
    s2.child.kill('SIGTERM');
    expect((await s2.exited).code).toBe(0);
    await containers.remove(id);
  }, 90_000);

  it('/healthz is 503 naming the registrar and why while the Docker event stream is down, 200 once it is back', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sy-registrar-healthz-'));
    const proxy = new DockerSocketProxy(path.join(dir, 'docker.sock'));
    await proxy.up();
    try {
      const port = await freePort();
      const s = switchyard(daemonArgs(), {
        DOCKER_HOST: proxy.dockerHost,
        SWITCHYARD_HTTP_LISTEN: `127.0.0.1:${port}`,
      });
      const healthz = async () => {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`);
        return {
          code: res.status,
          body: (await res.json()) as {
            status: string;
            parts: Record<string, { status: string; message?: string; since?: string }>;
          },
        };
      };
      await waitFor('healthy', async () => (await healthz().catch(() => undefined))?.code === 200, 15_000);

      const cut = Date.now();
      await proxy.down();
      const down = await waitFor(
        '503',
        async () => {
          const h = await healthz();
          return h.code === 503 ? h : undefined;
        },
        5_000,
      );
      expect(down.body.status).toBe('unhealthy');
      expect(down.body.parts.registrar).toMatchObject({ status: 'unhealthy' });
      expect(down.body.parts.registrar!.message).toMatch(
        /^the Docker event stream is down \(.+\); reconnecting with backoff$/,
      );
      expect(Math.abs(Date.parse(down.body.parts.registrar!.since!) - cut)).toBeLessThan(3_000);
      // Still down a while later, with the reason of the failed reconnects (nothing listens now).
      await new Promise((r) => setTimeout(r, 2_000));
      const still = await healthz();
      expect(still.code).toBe(503);
      expect(still.body.parts.registrar!.message).toMatch(/ENOENT|ECONNREFUSED/);

      await proxy.up();
      await waitFor('200 again', async () => (await healthz()).code === 200, 20_000);
      expect((await healthz()).body.parts.registrar).toMatchObject({ status: 'ok' });
      s.child.kill('SIGTERM');
      expect((await s.exited).code).toBe(0);
    } finally {
      await proxy.down();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
