import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { LabelError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log/logger.js';
import { serviceDefinitions, isValidTag } from '../../../src/registrar/service-definitions.js';
import { EtaTemplateRenderer } from '../../../src/render/eta-template-renderer.js';
import { containerInfo } from '../../fixtures/fuzz/arbitraries.js';
import {
  directiveLines,
  foreignLines,
  fuzzWorld,
  FUZZ_DEFINITION_OPTIONS,
  referenceShapes,
} from '../../fixtures/fuzz/config-shape.js';
import { GOLDEN_PARAMS, PROXIES, REPO_ROOT } from '../../fixtures/golden/golden.js';
import { goldenSnapshots } from '../../fixtures/golden/snapshots.js';
import path from 'node:path';

/**
 * Property-based tests of the label → config path (issue 12, item 6): thousands of random labels,
 * env, tags, Meta values and service names per run. The real checkers run on a sample in
 * test/integration/render/label-config-checkers.test.ts. FUZZ_SEED=<n> replays a failing run.
 */
const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const params = (numRuns: number) => ({ numRuns, ...(seed !== undefined ? { seed } : {}) });

const renderers = PROXIES.map((p) => ({
  kind: p.kind,
  renderer: new EtaTemplateRenderer({
    templatePath: path.join(REPO_ROOT, 'templates', p.template),
    params: GOLDEN_PARAMS,
    logger: silentLogger(),
  }),
}));

describe('labels → service definitions (fuzzed)', () => {
  it('either registers safe values or refuses the container with one LabelError naming the label', () => {
    let refused = 0;
    let registered = 0;
    fc.assert(
      fc.property(containerInfo, FUZZ_DEFINITION_OPTIONS, (info, opts) => {
        let result;
        try {
          result = serviceDefinitions(info, opts);
        } catch (err) {
          // Anything but a LabelError would crash the container's lane instead of skipping it.
          expect(err).toBeInstanceOf(LabelError);
          const e = err as LabelError;
          expect(e.label.length).toBeGreaterThan(0);
          // One line: a log line cannot be split by a value quoted in it.
          expect(e.message).not.toMatch(/[\n\r]/);
          refused += 1;
          return;
        }
        if (!result.selected) return;
        for (const s of result.services) {
          registered += 1;
          expect(s.name).toMatch(/^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/);
          expect(s.id).toMatch(/^[a-zA-Z0-9_.:@-]{1,200}$/);
          for (const t of s.tags) expect(isValidTag(t)).toBe(true);
          expect(s.port).toBeGreaterThanOrEqual(1);
          expect(s.port).toBeLessThanOrEqual(65535);
          for (const [k, v] of Object.entries(s.meta)) {
            expect(k).toMatch(/^[a-zA-Z0-9_-]{1,128}$/);
            expect(v.length).toBeLessThanOrEqual(512);
          }
          expect(Object.keys(s.meta).length).toBeLessThanOrEqual(64);
        }
      }),
      params(4000),
    );
    // The generators reach both outcomes often, or the property proves little.
    expect(refused).toBeGreaterThan(200);
    expect(registered).toBeGreaterThan(200);
  });
});

describe('fuzzed Consul and labels → rendered configs', () => {
  const reference = referenceShapes();

  it('the shape check itself catches an injected directive, an extra word and a broken-out block', () => {
    const [haproxy, nginx] = renderers.map(({ renderer }) => renderer.render(goldenSnapshots['blue-live']!));
    expect(foreignLines(haproxy!, 'haproxy', reference.haproxy)).toEqual([]);
    const injected = haproxy!.replace(
      /( {4}server blue_1 \S+ weight \d+)\n/,
      '$1 ssl verify none\n    http-request redirect location http://evil\n',
    );
    expect(foreignLines(injected, 'haproxy', reference.haproxy)).toEqual([
      expect.stringMatching(/server blue_1 .* ssl verify none$/),
      '    http-request redirect location http://evil',
    ]);
    const broken = nginx!.replace('keepalive 32;', 'keepalive 32;\n    }\n    server { listen 6666; }');
    // The early `}` puts the rest of the block one level out: the real closer no longer fits, nor the new server.
    expect(foreignLines(nginx!, 'nginx', reference.nginx)).toEqual([]);
    expect(foreignLines(broken, 'nginx', reference.nginx)).toEqual(
      expect.arrayContaining(['    server { listen 6666; }']),
    );
    expect(foreignLines(broken, 'nginx', reference.nginx).length).toBeGreaterThan(1);
  });

  it('every directive line of every render has a shape the template produces', () => {
    let lines = 0;
    fc.assert(
      fc.property(fuzzWorld({ dnsNames: true, maxServices: 8 }), ({ snapshot }) => {
        for (const { kind, renderer } of renderers) {
          const config = renderer.render(snapshot);
          lines += directiveLines(config).length;
          expect(foreignLines(config, kind, reference[kind])).toEqual([]);
          // Listens only where the params say, whatever the services are called.
          const listens = directiveLines(config)
            .map((l) => l.trim())
            .filter((l) => /^(bind|listen) /.test(l));
          for (const l of listens)
            expect(l).toMatch(/^(bind \*:(80|8080|1936)|listen \*:(80|8080)( default_server)?;)$/);
        }
      }),
      params(400),
    );
    expect(lines).toBeGreaterThan(10_000);
  });
});
