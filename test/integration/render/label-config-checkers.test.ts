import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { CheckerError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log/logger.js';
import { LocalChecker } from '../../../src/proxy/config-checker.js';
import { EtaTemplateRenderer } from '../../../src/render/eta-template-renderer.js';
import { haproxyBinary, nginxBinary } from '../../helpers/components.js';
import { fuzzWorld } from '../../fixtures/fuzz/config-shape.js';
import { GOLDEN_PARAMS, GOLDEN_RUN_DIR, PROXIES, REPO_ROOT } from '../../fixtures/golden/golden.js';
import { tempDir } from '../proxy/proxy-fixtures.js';

/**
 * Fuzzed labels, tags, Meta values and service names (test/fixtures/fuzz) rendered by the shipped
 * templates, then checked by the real `haproxy -c` and `nginx -t`. Each config batches up to 30
 * services, so one checker run covers hundreds of random values. FUZZ_SEED=<n> replays a run.
 */
const BATCHES = Number(process.env.FUZZ_BATCHES ?? 60);

describe('the real checkers accept every fuzzed render', () => {
  const tmp = tempDir('sy-fuzz-checkers-');
  const checkers = {
    haproxy: new LocalChecker('haproxy', haproxyBinary()),
    nginx: new LocalChecker('nginx', nginxBinary()),
  };
  const renderers = PROXIES.map((p) => ({
    kind: p.kind,
    suffix: p.suffix,
    renderer: new EtaTemplateRenderer({
      templatePath: path.join(REPO_ROOT, 'templates', p.template),
      params: GOLDEN_PARAMS,
      logger: silentLogger(),
    }),
  }));

  beforeAll(() => {
    mkdirSync(GOLDEN_RUN_DIR, { recursive: true });
  });
  afterAll(() => {
    tmp.remove();
    // What `nginx -t` made there (its temp folders, error log).
    rmSync(GOLDEN_RUN_DIR, { recursive: true, force: true });
  });

  it(`accepts ${BATCHES} batches of fuzzed services with both proxies`, async () => {
    const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() % 2 ** 31;
    // No DNS names but localhost: `haproxy -c` resolves hostnames through libc, and nothing here may
    // query a DNS server off this machine. The unit property covers DNS names without a checker.
    const worlds = fc.sample(fuzzWorld({ dnsNames: false, maxServices: 30 }), { numRuns: BATCHES, seed });
    let services = 0;
    let instances = 0;
    const rejected: string[] = [];
    for (const [i, world] of worlds.entries()) {
      services += world.snapshot.services.length;
      instances += world.snapshot.services.reduce((n, s) => n + s.instances.length, 0);
      for (const { kind, suffix, renderer } of renderers) {
        const file = path.join(tmp.dir, `batch-${i}.${suffix}`);
        writeFileSync(file, renderer.render(world.snapshot));
        try {
          await checkers[kind].check(file);
        } catch (err) {
          const output = err instanceof CheckerError ? err.output : String(err);
          rejected.push(`seed ${seed} batch ${i} ${kind}: ${output.slice(0, 1000)}`);
        }
      }
    }
    process.stdout.write(
      `fuzz: ${BATCHES} configs per proxy, ${services} services, ${instances} instances, seed ${seed}\n`,
    );
    expect(rejected).toEqual([]);
    // Enough random input reached the checkers to mean something.
    expect(services).toBeGreaterThan(BATCHES * 2);
    expect(instances).toBeGreaterThan(BATCHES * 5);
  }, 240_000);
});
