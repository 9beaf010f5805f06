import { describe, expect, it } from '@jest/globals';
import { ConfigError } from '../../../src/errors.js';
import { safeName } from '../../../src/render/safe-name.js';
import { buildTemplateContext, slotCount } from '../../../src/render/template-context.js';
import { parseTemplateParams } from '../../../src/render/template-params.js';
import { validAddress } from '../../../src/domain/address.js';
import { quoteHaproxy, quoteNginx } from '../../../src/render/validate.js';
import { perServerWeights } from '../../../src/render/weights.js';
import { instance, service } from '../../fixtures/golden/snapshots.js';

const params = parseTemplateParams({});

describe('safeName', () => {
  it('keeps names that are already safe and hashes the rest', () => {
    expect(safeName('web')).toBe('web');
    expect(safeName('my_api2')).toBe('my_api2');
    expect(safeName('a-b')).toMatch(/^a_b_[0-9a-f]{12}$/);
    expect(safeName('9lives')).toMatch(/^x9lives_[0-9a-f]{12}$/);
  });

  it('never maps two different names to the same identifier', () => {
    const inputs = ['a-b', 'a_b', 'a.b', 'A_B', 'a b', 'a\nb', safeName('a-b'), 'x'.repeat(1000), 'x'.repeat(999)];
    const out = inputs.map(safeName);
    expect(new Set(out).size).toBe(inputs.length);
    for (const o of out) expect(o).toMatch(/^[a-z][a-z0-9_]{0,47}$/);
  });
});

describe('validators and escapers', () => {
  it('accepts IP literals and hostnames, nothing else', () => {
    expect(validAddress('10.0.0.1')).toEqual({ address: '10.0.0.1', kind: 'ipv4' });
    expect(validAddress('[FE80::1]')).toEqual({ address: 'fe80::1', kind: 'ipv6' });
    // Found by the label → config fuzz: nginx refused `::` standing for a single zero group.
    expect(validAddress('a5:34:0e76:d:5c:76ad:41c::')).toEqual({ address: 'a5:34:e76:d:5c:76ad:41c:0', kind: 'ipv6' });
    expect(validAddress('2001:0db8:0000:0000:0000:0000:0000:0001')).toEqual({ address: '2001:db8::1', kind: 'ipv6' });
    expect(validAddress('db-1.internal')).toEqual({ address: 'db-1.internal', kind: 'hostname' });
    for (const bad of ['', '1.2.3.4;', 'a b', 'fe80::1%eth0', 'x\ny', '-a.b', 'a'.repeat(64), '1.2.3.4:80', '{'])
      expect(validAddress(bad)).toBeUndefined();
  });

  it('quotes any string as a single word for each proxy', () => {
    expect(quoteHaproxy(`it's\n$HOME`)).toBe(`'it'\\''s$HOME'`);
    expect(quoteNginx('say "hi" \\ $host\n')).toBe('"say \\"hi\\" \\\\ host"');
  });
});

describe('perServerWeights', () => {
  it('makes color shares equal the requested percent', () => {
    const w = perServerWeights(
      new Map([
        ['blue', 90],
        ['green', 10],
      ]),
      new Map([
        ['blue', 3],
        ['green', 1],
      ]),
    );
    const blueShare = (3 * w.get('blue')!) / (3 * w.get('blue')! + w.get('green')!);
    expect(blueShare).toBeCloseTo(0.9, 2);
    expect(Math.max(...w.values())).toBe(256);
  });

  it('gives 0 to a color without a share and at least 1 to a tiny share', () => {
    const w = perServerWeights(
      new Map([
        ['blue', 99],
        ['green', 1],
        ['red', 0],
      ]),
      new Map([
        ['blue', 1],
        ['green', 50],
        ['red', 2],
      ]),
    );
    expect(w.get('green')).toBe(1);
    expect(w.get('red')).toBe(0);
  });
});

describe('template params', () => {
  it('has the documented defaults', () => {
    expect(params).toMatchObject({ mainPort: 80, previewPort: 8080, statsPort: 1936, bind: '*', serverSlots: 4 });
  });

  it('refuses a bad value with one line naming the key', () => {
    expect(() => parseTemplateParams({ mainPort: '80;' })).toThrow(ConfigError);
    expect(() => parseTemplateParams({ mainPort: '70000' })).toThrow(/template param mainPort: expected a port/);
    expect(() => parseTemplateParams({ bind: '0.0.0.0;\nx' })).toThrow(/template param bind/);
    expect(() => parseTemplateParams({ pidFile: 'relative/x' })).toThrow(/template param pidFile/);
    expect(() => parseTemplateParams({ hardStopAfter: '30' })).toThrow(/hardStopAfter: expected a duration/);
    expect(parseTemplateParams({ bind: '::1' }).bind).toBe('[::1]');
  });
});

describe('buildTemplateContext', () => {
  it('routes live to the main backend and idle to the preview backend, passing instances only', () => {
    const snap = {
      services: [
        service(
          'web',
          [
            instance('web', 1, 'blue'),
            instance('web', 2, 'blue', { health: 'critical' }),
            instance('web', 1, 'green'),
            instance('web', 2, 'green', { maintenance: true }),
          ],
          'blue',
          'green',
        ),
      ],
    };
    const { context, warnings } = buildTemplateContext(snap, params);
    expect(warnings).toEqual([]);
    const web = context.services[0]!;
    expect(web).toMatchObject({ id: 'web', host: 'web', live: 'blue', idle: 'green', canary: false, isDefault: true });
    expect(web.weights).toEqual({ blue: 100 });
    expect(web.byColor('blue').map((i) => i.endpoint)).toEqual(['10.0.1.1:8080']);
    expect(web.liveBackend.active.map((s) => [s.name, s.weight])).toEqual([['blue_1', 256]]);
    expect(web.previewBackend.active.map((s) => [s.name, s.weight])).toEqual([['green_1', 256]]);
    // Slots: one passing instance per color + spares up to the block of 4, for both colors in both backends.
    expect(web.liveBackend.slots.map((s) => s.name)).toEqual([
      'blue_1',
      'blue_2',
      'blue_3',
      'blue_4',
      'green_1',
      'green_2',
      'green_3',
      'green_4',
    ]);
    expect(context.defaultService).toBe(web);
  });

  it('falls back to the first color with a passing instance when no live color is known', () => {
    const snap = {
      services: [service('web', [instance('web', 1, 'green'), instance('web', 1, undefined)], undefined, undefined)],
    };
    const web = buildTemplateContext(snap, params).context.services[0]!;
    expect(web.live).toBe('green');
  });

  it('keeps the previous live color’s slots after its instances are gone, so teardown and redeploy need no reload', () => {
    const slotNames = (instances: ReturnType<typeof instance>[]) =>
      buildTemplateContext(
        { services: [service('web', instances, 'green', undefined, { live: 'green', previous: 'blue' })] },
        params,
      ).context.services[0]!.liveBackend.slots.map((sl) => sl.name);
    const withBlue = slotNames([instance('web', 1, 'blue'), instance('web', 1, 'green')]);
    const blueGone = slotNames([instance('web', 1, 'green')]);
    expect(blueGone).toEqual(withBlue);
    expect(blueGone.filter((n) => n.startsWith('blue_'))).toHaveLength(slotCount(0, params.serverSlots));
  });

  it('gives every colored service slots and a preview backend for each configured color, instances or not', () => {
    const colors = ['blue', 'green'];
    const shape = (instances: ReturnType<typeof instance>[]) => {
      const web = buildTemplateContext({ services: [service('web', instances, 'blue', undefined)] }, params, {
        colors,
      }).context.services[0]!;
      return {
        colors: web.colors,
        live: web.liveBackend.slots.map((sl) => sl.name),
        preview: web.previewBackend.slots.map((sl) => sl.name),
        byColor: web.colorBackends.map((b) => [b.name, b.color, b.slots.map((sl) => sl.name)]),
      };
    };
    const blueOnly = shape([instance('web', 1, 'blue')]);
    expect(blueOnly.colors).toEqual(['blue', 'green']);
    expect(blueOnly.byColor).toEqual([
      ['web_c_blue', 'blue', ['blue_1', 'blue_2', 'blue_3', 'blue_4']],
      ['web_c_green', 'green', ['green_1', 'green_2', 'green_3', 'green_4']],
    ]);
    // Green's first instance and its last one leaving change no slot, so no backend: server lines only.
    expect(shape([instance('web', 1, 'blue'), instance('web', 1, 'green')])).toEqual(blueOnly);
    // A plain service of uncolored instances gets no color slots.
    const legacy = buildTemplateContext(
      { services: [service('legacy', [instance('legacy', 1, undefined)], undefined, undefined)] },
      params,
      { colors },
    ).context.services[0]!;
    expect(legacy.colors).toEqual(['uncolored']);
    expect(legacy.colorBackends).toEqual([]);
  });

  it('keeps an empty configured color’s preview backend with serverSlots 0, with no server', () => {
    const exact = parseTemplateParams({ serverSlots: '0' });
    const web = buildTemplateContext(
      { services: [service('web', [instance('web', 1, 'blue')], 'blue', undefined)] },
      exact,
      { colors: ['blue', 'green'] },
    ).context.services[0]!;
    expect(web.colorBackends.map((b) => [b.name, b.color, b.slots.length])).toEqual([
      ['web_c_blue', 'blue', 1],
      ['web_c_green', 'green', 0],
    ]);
  });

  it('leaves invalid instances out with a warning naming them', () => {
    const snap = {
      services: [
        service(
          'web',
          [
            instance('web', 1, 'blue', { id: 'evil', address: '10.0.0.1\n    server x 6.6.6.6:80' }),
            instance('web', 2, 'blue', { id: 'zero', port: 0 }),
            instance('web', 3, 'blue'),
          ],
          'blue',
          undefined,
        ),
      ],
    };
    const { context, warnings } = buildTemplateContext(snap, params);
    expect(context.services[0]!.instances.map((i) => i.address)).toEqual(['10.0.1.3']);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/instance "evil" .* left out: address ".*" is not an IP address or a hostname/);
    expect(warnings[1]).toMatch(/instance "zero" .* port "0" is not a whole number from 1 to 65535/);
  });

  it('exposes meta only as plain tokens and tags only as a membership test', () => {
    const snap = {
      services: [
        service(
          'web',
          [
            instance('web', 1, 'blue', {
              tags: ['a;b'],
              meta: { version: '1.2.3', evil: 'x;\n}', health_path: '/health' },
            }),
          ],
          'blue',
          undefined,
        ),
      ],
    };
    const web = buildTemplateContext(snap, params).context.services[0]!;
    const i = web.instances[0]!;
    expect(i.meta('version')).toBe('1.2.3');
    expect(i.meta('evil')).toBeUndefined();
    expect(i.meta('constructor')).toBeUndefined();
    expect(i.hasTag('a;b')).toBe(true);
    expect(web.healthPath).toBe('/health');
  });

  it('chooses the default service from the param, and warns when it names no service', () => {
    const snap = {
      services: [
        service('api', [instance('api', 1, 'blue')], 'blue', undefined),
        service('web', [instance('web', 1, 'blue')], 'blue', undefined),
      ],
    };
    expect(buildTemplateContext(snap, parseTemplateParams({ defaultService: 'web' })).context.defaultService?.id).toBe(
      'web',
    );
    const r = buildTemplateContext(snap, parseTemplateParams({ defaultService: 'nope' }));
    expect(r.context.defaultService?.id).toBe('api');
    expect(r.warnings[0]).toMatch(/defaultService names "nope"/);
  });

  it('allocates slots in blocks, always with a spare', () => {
    expect([0, 1, 3, 4, 7, 8].map((n) => slotCount(n, 4))).toEqual([4, 4, 4, 8, 8, 12]);
    expect(slotCount(3, 0)).toBe(3);
  });
});
