import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { silentLogger } from '../../../src/log/logger.js';
import { parseServersState, planRuntime, stateMismatches } from '../../../src/proxy/haproxy-runtime-api-plan.js';
import { EtaTemplateRenderer } from '../../../src/render/eta-template-renderer.js';
import { parseTemplateParams } from '../../../src/render/template-params.js';
import type { Instance } from '../../../src/snapshot/snapshot.js';
import { instance, service } from '../../fixtures/golden/snapshots.js';

/** Configs in the slot layout of templates/haproxy.cfg.eta (docs/templates.md). */
function config(live: string[], preview: string[] = [], extra = ''): string {
  return `global
    master-worker
    stats socket /run/haproxy/admin.sock mode 600 level admin expose-fd listeners

defaults
    mode http
    default-server check inter 2s fall 2 rise 2
${extra}
frontend main
    bind 127.0.0.1:8080
    default_backend web_live

backend web_live
    balance roundrobin
    option httpchk GET /health
${live.map((l) => `    server ${l}\n`).join('')}
backend web_preview
    balance roundrobin
${preview.map((l) => `    server ${l}\n`).join('')}`;
}

const SPARE = '0.0.0.0:0 disabled weight 0';

describe('Runtime API planner', () => {
  it('turns a switch into weight changes, raising the new color before lowering the old', () => {
    const blue = config([
      `blue_1 10.0.0.1:8080 weight 256`,
      `blue_2 ${SPARE}`,
      `green_1 10.0.0.2:8080 weight 0`,
      `green_2 ${SPARE}`,
    ]);
    const green = config([
      `blue_1 10.0.0.1:8080 weight 0`,
      `blue_2 ${SPARE}`,
      `green_1 10.0.0.2:8080 weight 256`,
      `green_2 ${SPARE}`,
    ]);
    const plan = planRuntime(blue, green);
    expect(plan).toMatchObject({
      kind: 'runtime',
      changed: 2,
      commands: ['set weight web_live/green_1 256', 'set weight web_live/blue_1 0'],
    });
  });

  it('fills a spare slot for a new instance: address, weight, then ready', () => {
    const before = config([`green_1 10.0.0.2:8080 weight 256`, `green_2 ${SPARE}`]);
    const after = config([`green_1 10.0.0.2:8080 weight 256`, `green_2 10.0.0.3:8081 weight 256`]);
    expect(planRuntime(before, after)).toMatchObject({
      kind: 'runtime',
      commands: [
        'set server web_live/green_2 addr 10.0.0.3 port 8081',
        'set weight web_live/green_2 256',
        'set server web_live/green_2 state ready',
        'set server web_live/green_2 health up',
      ],
    });
  });

  it('empties the slot of a removed instance: weight 0, then maintenance, after any additions', () => {
    const before = config([`green_1 10.0.0.2:8080 weight 256`, `green_2 10.0.0.3:8080 weight 256`]);
    const after = config([`green_1 10.0.0.4:8080 weight 256`, `green_2 ${SPARE}`]);
    expect(planRuntime(before, after)).toMatchObject({
      kind: 'runtime',
      commands: [
        'set server web_live/green_1 addr 10.0.0.4 port 8080',
        // The slot keeps HAProxy's health state of its old instance unless told otherwise.
        'set server web_live/green_1 health up',
        'set weight web_live/green_2 0',
        'set server web_live/green_2 state maint',
      ],
    });
  });

  it('re-weights a canary and addresses the same slot name in each backend separately', () => {
    const before = config(
      [`blue_1 10.0.0.1:8080 weight 256`, `green_1 10.0.0.2:8080 weight 0`],
      [`blue_1 10.0.0.1:8080 weight 0`, `green_1 10.0.0.2:8080 weight 256`],
    );
    const after = config(
      [`blue_1 10.0.0.1:8080 weight 230`, `green_1 10.0.0.2:8080 weight 26`],
      [`blue_1 10.0.0.1:8080 weight 0`, `green_1 10.0.0.2:8080 weight 256`],
    );
    expect(planRuntime(before, after)).toMatchObject({
      commands: ['set weight web_live/green_1 26', 'set weight web_live/blue_1 230'],
    });
  });

  it('adds the slots of a growing block as dynamic servers, with the default-server settings', () => {
    const before = config([`blue_1 10.0.0.1:8080 weight 256`, `blue_2 10.0.0.2:8080 weight 256`]);
    const after = config([
      `blue_1 10.0.0.1:8080 weight 256`,
      `blue_2 10.0.0.2:8080 weight 256`,
      `blue_3 10.0.0.3:8080 weight 256`,
      `blue_4 ${SPARE}`,
    ]);
    expect(planRuntime(before, after)).toMatchObject({
      kind: 'runtime',
      changed: 2,
      commands: [
        'add server web_live/blue_3 0.0.0.0:0 weight 0 disabled check inter 2s fall 2 rise 2',
        'enable health web_live/blue_3',
        'set server web_live/blue_3 addr 10.0.0.3 port 8080',
        'set weight web_live/blue_3 256',
        'set server web_live/blue_3 state ready',
        'set server web_live/blue_3 health up',
        'add server web_live/blue_4 0.0.0.0:0 weight 0 disabled check inter 2s fall 2 rise 2',
        'enable health web_live/blue_4',
      ],
    });
  });

  it('needs a reload when a slot goes, a line outside servers changes, or a server has a host name', () => {
    const base = config([`blue_1 10.0.0.1:8080 weight 256`, `blue_2 ${SPARE}`]);
    expect(planRuntime(base, config([`blue_1 10.0.0.1:8080 weight 256`]))).toMatchObject({
      kind: 'structural',
      why: 'server web_live/blue_2 is no longer in the config',
    });
    expect(
      planRuntime(base, config([`blue_1 10.0.0.1:8080 weight 256`, `blue_2 ${SPARE}`], [], '    timeout client 5s')),
    ).toMatchObject({
      kind: 'structural',
    });
    expect(
      planRuntime(base, config([`blue_1 app.internal:8080 weight 256 init-addr last,libc,none`, `blue_2 ${SPARE}`])),
    ).toMatchObject({ kind: 'structural', why: expect.stringContaining('host name') });
    expect(planRuntime(base, config([`blue_1 10.0.0.1:8080 weight 256 maxconn 10`, `blue_2 ${SPARE}`]))).toMatchObject({
      kind: 'structural',
      why: expect.stringContaining('settings beyond address and weight'),
    });
  });

  it('plans nothing for identical servers', () => {
    const c = config([`blue_1 10.0.0.1:8080 weight 256`]);
    expect(planRuntime(c, c)).toMatchObject({ kind: 'runtime', commands: [], changed: 0 });
  });

  it('handles IPv6 servers', () => {
    const before = config([`blue_1 [fd00::1]:8080 weight 256`, `blue_2 ${SPARE}`]);
    const after = config([`blue_1 [fd00::1]:8080 weight 256`, `blue_2 [fd00::2]:8080 weight 256`]);
    expect(planRuntime(before, after)).toMatchObject({
      commands: [
        'set server web_live/blue_2 addr fd00::2 port 8080',
        'set weight web_live/blue_2 256',
        'set server web_live/blue_2 state ready',
        'set server web_live/blue_2 health up',
      ],
    });
  });

  it('leaves the health state alone where HAProxy does not check', () => {
    const unchecked = (servers: string[]) => config(servers).replace('default-server check', 'default-server');
    const before = unchecked([`blue_1 10.0.0.1:8080 weight 256`, `blue_2 ${SPARE}`]);
    const after = unchecked([`blue_1 10.0.0.3:8080 weight 256`, `blue_2 10.0.0.2:8080 weight 256`]);
    expect(planRuntime(before, after)).toMatchObject({
      commands: [
        'set server web_live/blue_1 addr 10.0.0.3 port 8080',
        'set server web_live/blue_2 addr 10.0.0.2 port 8080',
        'set weight web_live/blue_2 256',
        'set server web_live/blue_2 state ready',
      ],
    });
  });
});

describe('Runtime API planner on the shipped template with the configured colors', () => {
  const render = (serverSlots: string, instances: Instance[], idle?: string) =>
    new EtaTemplateRenderer({
      templatePath: path.resolve(import.meta.dirname, '../../../templates/haproxy.cfg.eta'),
      params: parseTemplateParams({ serverSlots }),
      colors: ['blue', 'green'],
      logger: silentLogger(),
    }).render({ services: [service('web', instances, 'blue', idle)] });
  const blue = [instance('web', 1, 'blue')];
  const withGreen = [...blue, instance('web', 1, 'green')];

  it('fills green’s spares in every backend for its first instance, and empties them for its last', () => {
    const first = planRuntime(render('4', blue), render('4', withGreen, 'green'));
    expect(first).toMatchObject({ kind: 'runtime' });
    if (first.kind !== 'runtime') return;
    expect(first.commands.filter((c) => c.startsWith('add server'))).toEqual([]);
    for (const backend of ['web_live', 'web_preview', 'web_c_green'])
      expect(first.commands).toContain(`set server ${backend}/green_1 addr 10.0.2.1 port 8080`);
    // Preview port and header reach it; the main port does not (weight 0 there).
    expect(first.commands).toContain('set weight web_preview/green_1 256');
    expect(first.commands).toContain('set weight web_c_green/green_1 256');
    expect(first.commands).toContain('set weight web_live/green_1 0');

    const last = planRuntime(render('4', withGreen, 'green'), render('4', blue));
    expect(last).toMatchObject({ kind: 'runtime' });
    if (last.kind !== 'runtime') return;
    expect(last.commands).toContain('set server web_c_green/green_1 state maint');
    expect(last.commands).toContain('set server web_preview/green_1 state maint');
  });

  it('adds the first server of an empty backend (serverSlots 0) as a dynamic server; its last one going is a reload', () => {
    const before = render('0', blue);
    expect(before).toMatch(/backend web_c_green\n(?: {4}.*\n)*\n/);
    expect(before).not.toContain('server green_');
    const first = planRuntime(before, render('0', withGreen, 'green'));
    expect(first).toMatchObject({ kind: 'runtime' });
    if (first.kind !== 'runtime') return;
    expect(first.commands).toEqual(
      expect.arrayContaining([
        'add server web_c_green/green_1 0.0.0.0:0 weight 0 disabled check inter 2s fall 2 rise 2 observe layer4 error-limit 1 on-error mark-down',
        'enable health web_c_green/green_1',
        'set server web_c_green/green_1 addr 10.0.2.1 port 8080',
        'set weight web_c_green/green_1 256',
        'set server web_c_green/green_1 state ready',
      ]),
    );
    // `del server` refuses a server with connections left, so a slot that goes is a reload.
    expect(planRuntime(render('0', withGreen, 'green'), render('0', blue))).toMatchObject({
      kind: 'structural',
      why: expect.stringContaining('is no longer in the config'),
    });
  });

  it('adds a server to a backend that has none', () => {
    const empty = config([]);
    expect(planRuntime(empty, config([`green_1 10.0.0.2:8080 weight 256`]))).toMatchObject({
      kind: 'runtime',
      changed: 1,
      commands: [
        'add server web_live/green_1 0.0.0.0:0 weight 0 disabled check inter 2s fall 2 rise 2',
        'enable health web_live/green_1',
        'set server web_live/green_1 addr 10.0.0.2 port 8080',
        'set weight web_live/green_1 256',
        'set server web_live/green_1 state ready',
        'set server web_live/green_1 health up',
      ],
    });
  });
});

describe('show servers state', () => {
  // As HAProxy 2.6 printed it for a slot made ready at runtime (admin state 4 = "configured disabled", still serving).
  const text = `1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
3 web_live 1 blue_1 10.0.0.1 2 0 0 256 4 15 3 3 6 0 0 0 - 8080 - 0 0 - - 0
3 web_live 2 green_1 10.0.0.2 2 4 256 0 1 15 3 3 6 0 0 0 - 8080 - 0 0 - - 0
3 web_live 3 green_2 0.0.0.0 0 5 0 0 1 1 0 0 14 0 0 0 - 0 - 0 0 - - 0

`;
  it('parses rows by the header’s column names', () => {
    expect(parseServersState(text)).toEqual([
      { backend: 'web_live', name: 'blue_1', address: '10.0.0.1', port: 8080, opState: 2, adminState: 0, weight: 0 },
      { backend: 'web_live', name: 'green_1', address: '10.0.0.2', port: 8080, opState: 2, adminState: 4, weight: 256 },
      { backend: 'web_live', name: 'green_2', address: '0.0.0.0', port: 0, opState: 0, adminState: 5, weight: 0 },
    ]);
    expect(() => parseServersState('Unknown command')).toThrow('without a header');
  });

  it('finds no mismatch when HAProxy serves the candidate, and names each one otherwise', () => {
    const plan = planRuntime(
      config([`blue_1 10.0.0.1:8080 weight 256`, `green_1 10.0.0.2:8080 weight 0`, `green_2 ${SPARE}`]),
      config([`blue_1 10.0.0.1:8080 weight 0`, `green_1 10.0.0.2:8080 weight 256`, `green_2 ${SPARE}`]),
    );
    if (plan.kind !== 'runtime') throw new Error(plan.why);
    const rows = parseServersState(text);
    expect(stateMismatches(plan.servers, rows)).toEqual([]);
    rows[1]!.weight = 1;
    rows[1]!.adminState = 5;
    expect(stateMismatches(plan.servers, rows)).toEqual([
      'web_live/green_1 has weight 1, not 256',
      'web_live/green_1 is still in maintenance',
    ]);
  });
});
