import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { haproxyBinary, requireDocker } from '../../helpers/components.js';
import { appArgs, TestContainers } from '../../helpers/docker.js';
import { freePort, waitFor } from '../../helpers/ports.js';
import { ConsulPki, startSecureConsul, type SecureConsul } from '../../helpers/secure-consul.js';
import { TestProxy, tempDir } from '../proxy/proxy-fixtures.js';
import { CLI, requireBuiltCli, switchyard } from '../switch/cli.js';

/**
 * Every flow over HTTPS against a default-deny Consul, each role holding exactly the policy
 * docs/security.md gives it (docs/acl/*.hcl): the register role registers real containers, the
 * render role drives a real HAProxy, `switch --wait` moves traffic. Then what an operator gets
 * wrong: a token lacking a permission, a token deleted under a running daemon, a wrong CA.
 */
const acl = (role: string) => new URL(`../../../docs/acl/${role}.hcl`, import.meta.url).pathname;
const TAG = `consul-sec-${process.pid}`;
// Our own color label: the shared dockerd runs other tests' colored containers too.
const COLOR_LABEL = `sy-${TAG}-color`;

class Daemon {
  output = '';
  readonly child: ChildProcess;
  constructor(args: string[], env: Record<string, string>) {
    this.child = spawn(process.execPath, [CLI, 'run', ...args], {
      env: { ...process.env, SWITCHYARD_LOG_FORMAT: 'json', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (b: Buffer) => (this.output += b.toString());
    this.child.stdout!.on('data', collect);
    this.child.stderr!.on('data', collect);
  }
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  /** Log lines (JSON) whose message matches. */
  lines(re: RegExp): { level: string; message: string; container?: string }[] {
    return this.output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: string; message: string; container?: string })
      .filter((l) => re.test(l.message));
  }
  async stop(): Promise<void> {
    if (!this.running) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  }
}

describe('Switchyard against Consul with TLS and default-deny ACLs', () => {
  let consul: SecureConsul;
  let tokens: Record<'register' | 'render' | 'control', string>;
  let tlsEnv: Record<string, string>;
  const tmp = tempDir('sy-consul-secure-flows-');
  const containers = new TestContainers();
  const daemons: Daemon[] = [];
  const cliOutput: string[] = [];
  let proxy: TestProxy | undefined;
  let mainPort: number;
  let httpPort: number;
  let render: Daemon;

  const served = async () => (await (await fetch(`http://127.0.0.1:${mainPort}/`)).text()).trim();
  const cli = async (args: string[], env: Record<string, string>) => {
    const r = await switchyard(args, { ...tlsEnv, ...env });
    cliOutput.push(r.stdout, r.stderr);
    return r;
  };
  const app = async (color: string, n: number) => {
    const port = await freePort();
    return containers.run([
      '--name',
      `sy-${TAG}-${color}-${n}`,
      '--network',
      'host',
      '--expose',
      String(port),
      '-e',
      `PORT=${port}`,
      ...appArgs({ color, colorLabel: COLOR_LABEL, service: 'app', port }),
    ]);
  };
  const passing = (color: string, want: number) =>
    waitFor(
      `${want} passing ${color} instances`,
      async () => {
        const r = await cli(['status', '--json', '--service', 'app'], { CONSUL_HTTP_TOKEN: tokens.control });
        const s = JSON.parse(r.stdout) as { services: { colors: { color: string; passing: number }[] }[] };
        return (s.services[0]?.colors.find((c) => c.color === color)?.passing ?? 0) >= want;
      },
      60_000,
      500,
    );

  beforeAll(async () => {
    requireBuiltCli();
    requireDocker();
    consul = await startSecureConsul();
    tokens = {
      register: await consul.acl.tokenFromPolicyFile('switchyard-register', acl('register')),
      render: await consul.acl.tokenFromPolicyFile('switchyard-render', acl('render')),
      control: await consul.acl.tokenFromPolicyFile('switchyard-control', acl('control')),
    };
    tlsEnv = {
      CONSUL_HTTP_ADDR: consul.agent.url,
      CONSUL_CACERT: consul.pki.caFile,
      CONSUL_CLIENT_CERT: consul.agent.clientTls.cert,
      CONSUL_CLIENT_KEY: consul.agent.clientTls.key,
      SWITCHYARD_BY: 'secure@test',
    };
    mainPort = await freePort();
    httpPort = await freePort();
  }, 120_000);

  afterAll(async () => {
    for (const d of daemons) await d.stop();
    await proxy?.stop();
    await containers.removeAll();
    await consul?.stop();
    tmp.remove();
  }, 60_000);

  it('registers, renders through HAProxy and switches, each role with its least-privilege token', async () => {
    // The register role reads its token from a file, the render role from the environment.
    const registerTokenFile = path.join(tmp.dir, 'register.token');
    writeFileSync(registerTokenFile, `${tokens.register}\n`, { mode: 0o600 });
    daemons.push(
      new Daemon(
        [
          '--no-render',
          '--node-id',
          TAG,
          '--color-label',
          COLOR_LABEL,
          '--ip',
          '127.0.0.1',
          '--http-listen',
          'off',
          '--resync',
          '2s',
        ],
        {
          ...tlsEnv,
          CONSUL_HTTP_TOKEN_FILE: registerTokenFile,
        },
      ),
    );
    const configPath = path.join(tmp.dir, 'haproxy.cfg');
    const pidFile = path.join(tmp.dir, 'haproxy.pid');
    render = new Daemon(
      [
        '--no-register',
        '--proxy',
        'haproxy',
        '--proxy-binary',
        haproxyBinary(),
        '--config',
        configPath,
        '--proxy-pid-file',
        pidFile,
        '--template-param',
        `bind=127.0.0.1,statsPort=0,log=none,previewPort=0,mainPort=${mainPort}`,
        '--template-param',
        `adminSocket=${path.join(tmp.dir, 'admin.sock')}`,
        '--retry-delay',
        '1s',
        '--wait',
        '50ms:500ms',
        '--http-listen',
        `127.0.0.1:${httpPort}`,
      ],
      { ...tlsEnv, CONSUL_HTTP_TOKEN: tokens.render },
    );
    daemons.push(render);

    await app('blue', 1);
    await app('blue', 2);
    await passing('blue', 2);
    await waitFor('the first config', () => existsSync(configPath), 30_000, 100);
    proxy = await TestProxy.start('haproxy', tmp.dir, configPath, pidFile, mainPort);
    await waitFor('blue served', async () => (await served()).startsWith('blue'), 30_000, 200);

    await app('green', 1);
    await passing('green', 1);
    const sw = await cli(['switch', 'green', '--wait', '--timeout', '30s'], { CONSUL_HTTP_TOKEN: tokens.control });
    expect(sw.stderr).not.toMatch(/ACL|TLS/);
    expect(sw.code).toBe(0);
    await waitFor('green served', async () => (await served()).startsWith('green'), 30_000, 200);
  }, 180_000);

  it('a token lacking a permission gets one line naming operation and resource; the daemons keep serving', async () => {
    // A register role given the render role's token: it may read services but not write them.
    const wrong = new Daemon(
      [
        '--no-render',
        '--node-id',
        `${TAG}-wrong`,
        '--color-label',
        COLOR_LABEL,
        '--ip',
        '127.0.0.1',
        '--http-listen',
        'off',
        '--resync',
        '60s',
      ],
      { ...tlsEnv, CONSUL_HTTP_TOKEN: tokens.render },
    );
    daemons.push(wrong);
    await waitFor(
      'the ACL refusal in the log',
      () => wrong.lines(/Consul ACL: token may not write service "app" \(403\)/).length > 0,
      30_000,
      200,
    );
    await new Promise((r) => setTimeout(r, 1_000));
    const refusals = wrong.lines(/Consul ACL/);
    for (const l of refusals) expect(l.message).toMatch(/Consul ACL: token may not write service "app" \(403\)$/);
    // One line per container (the log line names it), never a stack or the raw answer; the three
    // running containers of this file: blue 1, blue 2, green 1. (On a shared dockerd the daemon may
    // also meet other suites' SERVICE_NAME=app containers: each gets its own one line too.)
    expect(new Set(refusals.map((l) => l.container)).size).toBe(refusals.length);
    const ours = refusals.map((l) => String(l.container)).filter((c) => c.startsWith(`sy-${TAG}-`));
    expect(ours.sort()).toEqual([`sy-${TAG}-blue-1`, `sy-${TAG}-blue-2`, `sy-${TAG}-green-1`]);
    expect(wrong.running).toBe(true);
    expect(await served()).toMatch(/^green/);
    await wrong.stop();
  }, 60_000);

  it('a token deleted under the render role: one clear line, the last good config keeps serving', async () => {
    const before = render.output.length;
    await consul.acl.deleteToken(tokens.render);
    // Something to render, so the watch answers (and fails) at once rather than at its wait's end.
    await app('green', 2);
    await waitFor(
      'the unknown-token line',
      () => render.output.slice(before).includes('Consul ACL: the token is not known to Consul'),
      30_000,
      200,
    );
    await new Promise((r) => setTimeout(r, 3_000));
    expect(render.running).toBe(true);
    expect(await served()).toMatch(/^green/);
    const warned = render.lines(/the token is not known/).filter((l) => l.level === 'warn' || l.level === 'error');
    expect(warned.length).toBeLessThanOrEqual(2);
  }, 60_000);

  it('a wrong CA gets one clear line and exit code 1', async () => {
    const other = await ConsulPki.create(path.join(tmp.dir, 'other-pki'));
    const r = await cli(['status'], { CONSUL_HTTP_TOKEN: tokens.control, CONSUL_CACERT: other.caFile });
    expect(r.code).toBe(1);
    expect(
      r.stderr
        .trim()
        .split('\n')
        .filter((l) => l.includes('Consul TLS')),
    ).toEqual([
      expect.stringMatching(/Consul TLS: the certificate of https:\/\/127\.0\.0\.1:\d+ is not signed by a trusted CA/),
    ]);
  }, 30_000);

  it('never shows a token in logs, errors, status output or metrics', async () => {
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const everything = [...daemons.map((d) => d.output), ...cliOutput, metrics].join('\n');
    expect(everything.length).toBeGreaterThan(1000);
    for (const secret of [...Object.values(tokens), consul.acl.managementToken, consul.acl.agentToken])
      expect(everything).not.toContain(secret);
  });
});
