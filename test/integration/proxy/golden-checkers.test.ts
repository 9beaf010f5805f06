import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, rmSync } from 'node:fs';
import { LocalChecker } from '../../../src/proxy/config-checker.js';
import { haproxyBinary, nginxBinary } from '../../helpers/components.js';
import { goldenCases, GOLDEN_RUN_DIR } from '../../fixtures/golden/golden.js';

/** Every golden config, including the hostile one, is accepted by the real `haproxy -c` and `nginx -t`. */
describe('the real checkers accept every golden config', () => {
  const checkers = {
    haproxy: new LocalChecker('haproxy', haproxyBinary()),
    nginx: new LocalChecker('nginx', nginxBinary()),
  };

  beforeAll(() => {
    // The golden nginx configs name their pid and log files here.
    mkdirSync(GOLDEN_RUN_DIR, { recursive: true });
  });
  // What `nginx -t` made there (its temp folders, error log).
  afterAll(() => rmSync(GOLDEN_RUN_DIR, { recursive: true, force: true }));

  for (const c of goldenCases()) {
    it(`${c.kind} accepts ${c.name}`, async () => {
      const output = await checkers[c.kind].check(c.file);
      // Accepted without the warnings proxies print for suspicious but legal configs — except the one
      // expected for the hostname instance no resolver knows (HAProxy then starts it disabled).
      const warnings = output.split('\n').filter((l) => /\[WARNING\]|\[ALERT\]|\[emerg\]|\[warn\]/.test(l));
      expect(warnings.filter((l) => !l.includes("could not resolve address 'web-green.internal'"))).toEqual([]);
    });
  }
});
