import { describe, it } from '@jest/globals';
import { runRolloutScenario } from './rollout-scenario.js';

describe('rollouts through haproxy', () => {
  it('previews by header and cookie, completes a sticky rollout under load with 0 failed, aborts on real 5xx', async () => {
    await runRolloutScenario('haproxy', (l) => process.stdout.write(`${l}\n`));
  }, 240_000);
});
