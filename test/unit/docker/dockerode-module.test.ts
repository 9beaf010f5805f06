import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';

/**
 * Run in a fresh Node (its type stripping runs the .ts file as is): the module cache of this test
 * runner is not Node's, and what matters is what a real process loads.
 */
const MODULE = fileURLToPath(new URL('../../../src/docker/dockerode-module.ts', import.meta.url));

function inFreshNode(body: string): Record<string, unknown> {
  const script = `
    import { createRequire } from 'node:module';
    const { Dockerode } = await import(${JSON.stringify(MODULE)});
    const require = createRequire(${JSON.stringify(MODULE)});
    const loaded = (pkg) => Object.keys(require.cache).some((f) => f.includes('/node_modules/' + pkg + '/'));
    const out = {};
    ${body}
    process.stdout.write(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ['--no-warnings', '--input-type=module', '-e', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`node exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

describe('dockerode without the parts Switchyard never calls', () => {
  it('loads dockerode but neither its BuildKit session (gRPC) nor ssh2', () => {
    const out = inFreshNode(`
      out.client = typeof new Dockerode({ socketPath: '/nonexistent.sock' }).getEvents;
      out.dockerode = loaded('dockerode');
      out.grpc = loaded('@grpc/grpc-js');
      out.ssh2 = loaded('ssh2');`);
    expect(out).toEqual({ client: 'function', dockerode: true, grpc: false, ssh2: false });
  });

  it('still loads the real module the first time dockerode calls a deferred one', () => {
    const out = inFreshNode(`
      const modem = require.resolve('docker-modem', { paths: [require.resolve('dockerode')] });
      const ssh = require(modem.replace(/modem\\.js$/, 'ssh.js'));
      const agent = ssh({ host: '127.0.0.1', port: 1 });
      out.agent = typeof agent.createConnection;
      out.ssh2 = loaded('ssh2');`);
    expect(out).toEqual({ agent: 'function', ssh2: true });
  });
});
