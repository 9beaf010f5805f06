import { describe, expect, it } from '@jest/globals';
import path from 'node:path';
import { Command } from 'commander';
import { reachableAdminSocket, trafficSource } from '../../../src/cli/compose.js';
import { addRenderOptions } from '../../../src/cli/render-flags.js';
import { silentLogger } from '../../../src/log/logger.js';
import { HaproxyStatsSource } from '../../../src/proxy/traffic-counters.js';
import { EtaTemplateRenderer } from '../../../src/render/eta-template-renderer.js';
import type { RenderOptions } from '../../../src/render/render-options.js';
import { renderSettings } from '../../../src/render/render-role.js';
import { parseTemplateParams } from '../../../src/render/template-params.js';
import { REPO_ROOT } from '../../fixtures/golden/golden.js';
import { goldenSnapshots } from '../../fixtures/golden/snapshots.js';

function parse(args: string[]): RenderOptions {
  const cmd = addRenderOptions(new Command('render').exitOverride().configureOutput({ writeErr: () => undefined }));
  cmd.parse(args, { from: 'user' });
  return cmd.opts<RenderOptions>();
}

const sidecar = ['--proxy-container', 'lb', '--template-param', 'adminSocket=/usr/local/etc/haproxy/admin/admin.sock'];

describe('the admin socket this host reaches', () => {
  it('is the template param on the proxy host, and only the given shared path in the sidecar layout', () => {
    const host = parse(['--template-param', 'adminSocket=/run/lb/admin.sock']);
    expect(reachableAdminSocket(host, renderSettings(host))).toBe('/run/lb/admin.sock');

    const bare = parse(sidecar);
    expect(reachableAdminSocket(bare, renderSettings(bare))).toBeUndefined();
    expect(trafficSource(bare, renderSettings(bare))).toBeUndefined();

    const shared = parse([...sidecar, '--haproxy-admin-socket', '/var/lib/switchyard/proxy/admin/admin.sock']);
    expect(reachableAdminSocket(shared, renderSettings(shared))).toBe('/var/lib/switchyard/proxy/admin/admin.sock');
    expect(trafficSource(shared, renderSettings(shared))).toBeInstanceOf(HaproxyStatsSource);
  });

  it('is none for nginx, when only installing, or for a template not given adminSocket', () => {
    const shared = ['--haproxy-admin-socket', '/shared/admin.sock', '--proxy-container', 'lb'];
    for (const args of [
      [...shared, '--proxy', 'nginx'],
      [...shared, '--no-reload'],
      [...shared, '--template', path.join(REPO_ROOT, 'templates/haproxy.cfg.eta')],
    ]) {
      const o = parse(args);
      expect(reachableAdminSocket(o, renderSettings(o))).toBeUndefined();
    }
  });

  it('refuses --haproxy-admin-socket without --proxy-container, naming both', () => {
    const o = parse(['--haproxy-admin-socket', '/shared/admin.sock']);
    expect(() => renderSettings(o)).toThrow(/--haproxy-admin-socket only applies with --proxy-container/);
  });
});

describe('template param adminSocketGid', () => {
  const statsLine = (raw: Record<string, string>) =>
    new EtaTemplateRenderer({
      templatePath: path.join(REPO_ROOT, 'templates/haproxy.cfg.eta'),
      params: parseTemplateParams(raw),
      logger: silentLogger(),
    })
      .render(goldenSnapshots['blue-live']!)
      .split('\n')
      .find((l) => l.includes('stats socket'));

  it('opens the admin socket to one group, owner only by default', () => {
    expect(statsLine({})).toBe('    stats socket /run/haproxy/admin.sock mode 600 level admin expose-fd listeners');
    expect(statsLine({ adminSocketGid: '10001' })).toBe(
      '    stats socket /run/haproxy/admin.sock mode 660 gid 10001 level admin expose-fd listeners',
    );
  });

  it('takes only a numeric group id', () => {
    expect(() => parseTemplateParams({ adminSocketGid: 'switchyard' })).toThrow(/template param adminSocketGid/);
    expect(() => parseTemplateParams({ adminSocketGid: '10001 uid 0' })).toThrow(/template param adminSocketGid/);
  });
});
