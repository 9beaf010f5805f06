import { describe, expect, it } from '@jest/globals';
import { goldenCases, readGolden } from '../../fixtures/golden/golden.js';

describe('shipped templates render the golden configs', () => {
  for (const c of goldenCases()) {
    it(`${c.name} → ${c.kind}`, () => {
      const golden = readGolden(c);
      if (golden === undefined) throw new Error(`${c.file} is missing; run with UPDATE_GOLDEN=1 to create it`);
      expect(c.rendered).toBe(golden);
    });
  }
});
