import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TestConsulAgent } from '../../helpers/consul-agent.js';
import { waitFor } from '../../helpers/ports.js';
import { CLI, requireBuiltCli, switchyard } from '../switch/cli.js';

/**
 * Rollouts run by daemons, as a user drives them: the built CLI and two `switchyard run` processes
 * (no register or render role: executors only) against a real Consul. Instances' health is set
 * through TTL checks; the traffic each render host would publish is written to KV by the test, one
 * report per host, counters growing each second (the proxies' own counters are tested with the
 * proxies, test/integration/e2e/rollout-*.test.ts).
 */
describe('rollouts run by the daemons', () => {
  let consul: TestConsulAgent;
  let env: Record<string, string>;
  const daemons: { child: ChildProcess; log: string }[] = [];
  let publisher: NodeJS.Timeout | undefined;
  let greenErrors = 0;

  const register = (id: string, color: string) =>
    consul.put('/v1/agent/service/register', {
      ID: id,
      Name: 'app',
      Address: '127.0.0.1',
      Port: 10_000 + Number(id.replace(/\D/g, '')),
      Meta: { color },
      Check: { CheckID: `ttl:${id}`, Name: 'app ttl', TTL: '10m', Status: 'passing' },
    });
  const kv = async (key: string) => {
    const [e] = await consul.get<{ Value: string }[]>(`/v1/kv/${key}`);
    return JSON.parse(Buffer.from(e!.Value, 'base64').toString()) as Record<string, unknown>;
  };
  const state = () => kv('switchyard/services/app/state');
  const history = async () =>
    (await kv('switchyard/services/app/history')) as unknown as { action: string; by: string; reason?: string }[];
  const lockHolder = async () => {
    const [e] = await consul.get<{ Value: string; Session?: string }[]>('/v1/kv/switchyard/rollouts/app/lock');
    return e?.Session ? (JSON.parse(Buffer.from(e.Value, 'base64').toString()) as { by: string }).by : undefined;
  };

  const startDaemon = (name: string) => {
    const d = {
      child: spawn(
        process.execPath,
        [
          CLI,
          'run',
          '--no-register',
          '--no-render',
          '--node-id',
          name,
          '--http-listen',
          'off',
          '--rollout-lock-delay',
          '1s',
          '--log-format',
          'text',
        ],
        { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
      ),
      log: '',
    };
    d.child.stdout!.on('data', (b: Buffer) => (d.log += b.toString()));
    d.child.stderr!.on('data', (b: Buffer) => (d.log += b.toString()));
    daemons.push(d);
    return d;
  };

  beforeAll(async () => {
    requireBuiltCli();
    consul = await TestConsulAgent.start();
    env = { CONSUL_HTTP_ADDR: consul.address, SWITCHYARD_BY: 'tester@ci' };
    await register('b1', 'blue');
    await register('g1', 'green');
    await consul.put('/v1/kv/switchyard/services/app/state', { live: 'blue' });
    // Two render hosts' counters: 20 requests a second per color each, green's 5xx as the test sets.
    let n = 0;
    publisher = setInterval(() => {
      n += 20;
      for (const node of ['lb1', 'lb2'])
        void consul
          .put(`/v1/kv/switchyard/traffic/${node}`, {
            node,
            at: new Date().toISOString(),
            proxy: 'nginx',
            services: {
              app: {
                blue: { requests: n, errors: 0, histogram: [n, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] },
                green: {
                  requests: n,
                  errors: Math.min(n, greenErrors),
                  histogram: [0, 0, n, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                },
              },
            },
          })
          .catch(() => undefined);
    }, 500);
    startDaemon('exec-a');
    startDaemon('exec-b');
  }, 60_000);

  afterAll(async () => {
    clearInterval(publisher);
    for (const d of daemons) if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGTERM');
    await Promise.all(
      daemons.map((d) =>
        d.child.exitCode !== null || d.child.signalCode !== null
          ? undefined
          : new Promise((r) => d.child.once('exit', r)),
      ),
    );
    await consul?.stop();
  });

  it('goes on after its executing daemon is SIGKILLed, and --follow exits 0 when it completes', async () => {
    const started = await switchyard(
      ['canary', 'green', '--steps', '20,50', '--interval', '2s', '--min-requests', '10'],
      env,
    );
    expect(started.code).toBe(0);
    expect(started.stdout).toContain('app: rollout of green written (steps 20,50% every 2s, stable blue)');
    await waitFor(
      'the first step',
      async () => JSON.stringify((await state()).weights) === '{"blue":80,"green":20}',
      15_000,
      100,
    );
    const holder = await lockHolder();
    expect(holder).toMatch(/^rollout@exec-[ab]\//);
    const victim = holder!.startsWith('rollout@exec-a/') ? daemons[0]! : daemons[1]!;
    victim.child.kill('SIGKILL');
    const killedAt = Date.now();
    const follow = switchyard(['rollout', 'status', '--follow'], env, 90_000);
    const r = await follow;
    const took = Date.now() - killedAt;
    process.stdout.write(`rollout completed ${took} ms after SIGKILL of its executor\n${r.stdout}\n`);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('rollout of green (stable blue) completed');
    expect(await state()).toMatchObject({ live: 'green', previous: 'blue' });
    const h = await history();
    const after = h
      .filter((e) => e.action.startsWith('rollout-'))
      .map((e) => `${e.action} ${e.by.replace(/\/\d+$/, '')}`);
    const other = holder!.includes('exec-a') ? 'rollout@exec-b' : 'rollout@exec-a';
    // Started and stepped by the first, finished by the other: nothing applied twice.
    expect(after[0]).toBe(`rollout-start ${holder!.replace(/\/\d+$/, '')}`);
    expect(after.at(-1)).toBe(`rollout-complete ${other}`);
    expect(after.filter((a) => a.startsWith('rollout-step'))).toHaveLength(2);
  }, 90_000);

  it('aborts back to the stable color on an injected 5xx rate, naming metric, value and threshold', async () => {
    await consul.put('/v1/kv/switchyard/services/app/state', { live: 'blue' });
    greenErrors = 1_000_000;
    const r = await switchyard(
      [
        'canary',
        'green',
        '--steps',
        '10,50',
        '--interval',
        '1s',
        '--max-failures',
        '2',
        '--min-requests',
        '10',
        '--follow',
      ],
      env,
      60_000,
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/check at 10%: fail — success rate of green 0% < 99%/);
    expect(r.stdout).toContain('rollout of green (stable blue) aborted');
    const s = await state();
    expect(s).toMatchObject({ live: 'blue' });
    expect(s.weights).toBeUndefined();
    const last = (await history()).at(-1)!;
    expect(last.action).toBe('rollout-abort');
    expect(last.reason).toContain(
      'check failed (2 of 2 allowed in a row) at step 1 of 2 (10% to green): success rate of green 0% < 99%',
    );
    greenErrors = 0;
  }, 60_000);

  it('pauses, resumes and promotes on request', async () => {
    await consul.put('/v1/kv/switchyard/services/app/state', { live: 'blue' });
    await switchyard(['canary', 'green', '--steps', '10,50', '--interval', '30s'], env);
    await waitFor(
      'the first step',
      async () => JSON.stringify((await state()).weights) === '{"blue":90,"green":10}',
      15_000,
      100,
    );
    expect((await switchyard(['rollout', 'pause', '--reason', 'lunch'], env)).code).toBe(0);
    await waitFor(
      'paused',
      async () => (await switchyard(['rollout', 'status'], env)).stdout.includes('paused'),
      15_000,
      200,
    );
    // status --watch redraws the same view as the page: status, the rollout, recent history.
    const watch = await switchyard(['status', '--watch'], env, 3000);
    expect(watch.stdout).toContain('\x1b[2J\x1b[H');
    expect(watch.stdout).toContain(
      'app: rollout of green (stable blue) paused · step 1 of 2 (10% to green) · weights blue=90% green=10%',
    );
    expect(watch.stdout).toMatch(/rollout-pause blue → green.*lunch/);
    const busy = await switchyard(['canary', 'green', '--steps', '10'], env);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain('a rollout of green is already paused for app');
    expect((await switchyard(['rollout', 'resume'], env)).code).toBe(0);
    const p = await switchyard(['rollout', 'promote', '--follow'], env, 30_000);
    expect(p.code).toBe(0);
    expect(await state()).toMatchObject({ live: 'green', previous: 'blue' });
    const actions = (await history()).slice(-3).map((e) => e.action);
    expect(actions).toEqual(['rollout-pause', 'rollout-resume', 'rollout-promote']);
    expect((await switchyard(['rollout', 'abort'], env)).stderr).toContain('app has no rollout running');
  }, 60_000);
});
