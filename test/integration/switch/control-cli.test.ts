import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TestConsulAgent } from '../../helpers/consul-agent.js';
import { waitFor } from '../../helpers/ports.js';
import { requireBuiltCli, switchyard } from './cli.js';

/**
 * switch / rollback / canary / status as a user runs them: the built CLI against a real Consul
 * agent, with instances whose health the test sets through TTL checks.
 */
describe('control commands against a real Consul', () => {
  let consul: TestConsulAgent;
  let env: Record<string, string>;

  const register = (id: string, color: string) =>
    consul.put('/v1/agent/service/register', {
      ID: id,
      Name: 'app',
      Address: '127.0.0.1',
      Port: 10_000 + Number(id.replace(/\D/g, '')),
      Meta: { color },
      Check: { CheckID: `ttl:${id}`, Name: 'app ttl', TTL: '10m' },
    });
  const setHealth = (id: string, status: 'pass' | 'fail') => consul.put(`/v1/agent/check/${status}/ttl:${id}`);
  const state = async () => {
    const [e] = await consul.get<{ Value: string }[]>('/v1/kv/switchyard/services/app/state');
    return JSON.parse(Buffer.from(e!.Value, 'base64').toString()) as Record<string, unknown>;
  };
  const report = (node: string, live: string) =>
    consul.put(`/v1/kv/switchyard/renderers/${node}`, {
      node,
      at: new Date().toISOString(),
      services: { app: { live } },
    });

  beforeAll(async () => {
    requireBuiltCli();
    consul = await TestConsulAgent.start();
    env = { CONSUL_HTTP_ADDR: consul.address, SWITCHYARD_BY: 'tester@ci' };
    await register('b1', 'blue');
    await register('g1', 'green');
    await register('g2', 'green');
    await setHealth('b1', 'pass');
  }, 60_000);

  afterAll(async () => {
    await consul?.stop();
  });

  it('derives blue as live on a fresh stack and shows it in status', async () => {
    const r = await switchyard(['status', '--json'], env);
    expect(r.code).toBe(0);
    const { services } = JSON.parse(r.stdout) as {
      services: {
        service: string;
        live: string;
        liveStored: boolean;
        colors: { color: string; passing: number; total: number }[];
      }[];
    };
    expect(services).toHaveLength(1);
    expect(services[0]).toMatchObject({ service: 'app', live: 'blue', liveStored: false });
    expect(services[0]!.colors.map((c) => [c.color, c.passing, c.total])).toEqual([
      ['blue', 1, 1],
      ['green', 0, 2],
    ]);
  }, 30_000);

  it('refuses to switch to a color with no passing instance, exit 1, nothing written', async () => {
    const r = await switchyard(['switch', 'green'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('green has 0 passing instances of app, need at least 1 (use --force to override)');
    expect(await consul.get('/v1/kv/switchyard/?keys').catch(() => [])).toEqual([]);
  }, 30_000);

  it('rejects bad usage with exit 2 and a message naming the problem', async () => {
    const bad = await switchyard(['switch', 'Not A Color'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('expected a color');
    const badN = await switchyard(['switch', 'green', '--min-passing', 'many'], env);
    expect(badN.code).toBe(2);
    expect(badN.stderr).toContain('--min-passing');
    const badSteps = await switchyard(['canary', 'green', '--steps', '50,10'], env);
    expect(badSteps.code).toBe(2);
    expect(badSteps.stderr).toContain('steps must rise');
  }, 30_000);

  it('switches once green passes, waits for the render hosts, and records who', async () => {
    await setHealth('g1', 'pass');
    await setHealth('g2', 'pass');
    await report('lb1', 'blue');
    const run = switchyard(['switch', 'green', '--reason', 'release 2', '--wait', '--timeout', '20s'], env);
    // A render host picks the change up a moment later.
    await waitFor(
      'the switch to be written',
      async () => (await state().catch(() => undefined))?.live === 'green',
      15_000,
      100,
    );
    await report('lb1', 'green');
    const r = await run;
    expect(r.stderr).toContain('1/1 render hosts serve green for app');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('app: live blue → green');
    expect(await state()).toMatchObject({
      live: 'green',
      previous: 'blue',
      updatedBy: 'tester@ci',
      reason: 'release 2',
    });
  }, 40_000);

  it('exits 1 when --wait times out, naming the host that lags', async () => {
    await setHealth('b1', 'pass');
    const r = await switchyard(['rollback', '--wait', '--timeout', '2s'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('timed out after 2s');
    expect(r.stderr).toContain('lb1 (serves green)');
    expect(await state()).toMatchObject({ live: 'blue', previous: 'green' });
  }, 30_000);
});
