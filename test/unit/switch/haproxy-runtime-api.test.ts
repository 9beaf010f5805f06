import { describe, expect, it } from '@jest/globals';
import { ReloadError } from '../../../src/errors.js';
import { PassThrough } from 'node:stream';
import { createLogger, silentLogger } from '../../../src/log/logger.js';
import { HaproxyRuntimeApi } from '../../../src/proxy/haproxy-runtime-api.js';

const cfg = (blueW: number, greenW: number) => `backend web_live
    balance roundrobin
    server blue_1 10.0.0.1:8080 weight ${blueW}
    server green_1 10.0.0.2:8080 weight ${greenW}
`;
const header =
  '1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port\n';
const row = (name: string, addr: string, w: number) =>
  `3 web_live 1 ${name} ${addr} 2 0 ${w} ${w} 1 15 3 3 6 0 0 0 - 8080\n`;

function api(answers: Record<string, string>) {
  const sent: string[] = [];
  const runtime = new HaproxyRuntimeApi({
    socketPath: '/nonexistent/admin.sock',
    logger: silentLogger(),
    send: (command) => {
      sent.push(command);
      return Promise.resolve(answers[command] ?? '');
    },
  });
  return { runtime, sent };
}

describe('HaproxyRuntimeApi', () => {
  it('sends the plan, checks show servers state, and reports the change handled', async () => {
    const { runtime, sent } = api({
      'show servers state': header + row('blue_1', '10.0.0.1', 0) + row('green_1', '10.0.0.2', 256),
    });
    await expect(runtime.tryApply({ installed: cfg(256, 0), candidate: cfg(0, 256) })).resolves.toBe(true);
    expect(sent).toEqual(['set weight web_live/green_1 256', 'set weight web_live/blue_1 0', 'show servers state']);
  });

  it('throws (so the driver reloads) when HAProxy refuses a command', async () => {
    const { runtime } = api({ 'set weight web_live/green_1 256': 'No such server.' });
    await expect(runtime.tryApply({ installed: cfg(256, 0), candidate: cfg(0, 256) })).rejects.toThrow(
      new ReloadError('HAProxy refused "set weight web_live/green_1 256": No such server.'),
    );
  });

  it('throws when HAProxy does not end up serving the candidate', async () => {
    const { runtime } = api({
      'show servers state': header + row('blue_1', '10.0.0.1', 256) + row('green_1', '10.0.0.2', 0),
    });
    await expect(runtime.tryApply({ installed: cfg(256, 0), candidate: cfg(0, 256) })).rejects.toThrow(
      'after the Runtime API update HAProxy does not serve the candidate: web_live/blue_1 has weight 256, not 0',
    );
  });

  it('declines a structural change without sending anything', async () => {
    const { runtime, sent } = api({});
    const candidate = cfg(0, 256).replace('balance roundrobin', 'balance leastconn');
    expect(runtime.handles({ installed: cfg(256, 0), candidate, quiet: true })).toBe(false);
    await expect(runtime.tryApply({ installed: cfg(256, 0), candidate })).resolves.toBe(false);
    expect(sent).toEqual([]);
  });

  it('declines without a socket, saying so once and only when asked to explain', async () => {
    const stream = new PassThrough();
    const lines: string[] = [];
    stream.on('data', (b: Buffer) => lines.push(...b.toString().trim().split('\n')));
    const runtime = new HaproxyRuntimeApi({
      socketPath: '/nonexistent/admin.sock',
      logger: createLogger({ stream, json: true, level: 'debug' }),
    });
    const change = { installed: cfg(256, 0), candidate: cfg(0, 256) };
    expect(runtime.handles({ ...change, quiet: true })).toBe(false);
    await new Promise((r) => setImmediate(r));
    expect(lines).toEqual([]);
    await expect(runtime.tryApply(change)).resolves.toBe(false);
    await expect(runtime.tryApply(change)).resolves.toBe(false);
    await new Promise((r) => setImmediate(r));
    expect(lines.filter((l) => l.includes('/nonexistent/admin.sock does not exist'))).toHaveLength(1);
  });
});
