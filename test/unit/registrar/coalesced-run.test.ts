import { describe, expect, it } from '@jest/globals';
import { CoalescedRun } from '../../../src/registrar/coalesced-run.js';

/** A pass the test finishes by hand, with the outcome it chooses. */
function manualPasses() {
  const started: string[] = [];
  const finish: Array<(ok: boolean) => void> = [];
  const pass = (arg: string) => {
    started.push(arg);
    return new Promise<boolean>((resolve) => finish.push(resolve));
  };
  const settle = () => new Promise((r) => setImmediate(r));
  return { started, finish, pass, settle };
}

describe('CoalescedRun', () => {
  it('requests during a pass cost one more pass, with the latest argument', async () => {
    const { started, finish, pass, settle } = manualPasses();
    const run = new CoalescedRun(pass);
    const a = run.request('start');
    const b = run.request('resync');
    const c = run.request('agent-lost');
    expect(started).toEqual(['start']);
    finish[0]!(true);
    await settle();
    expect(started).toEqual(['start', 'agent-lost']);
    finish[1]!(true);
    expect(await Promise.all([a, b, c])).toEqual([true, true, true]);
  });

  it('a caller that joined a run gets false when the pass covering its request fails', async () => {
    const { finish, pass, settle } = manualPasses();
    const run = new CoalescedRun(pass);
    const first = run.request('start');
    const joined = run.request('resync');
    finish[0]!(true);
    await settle();
    finish[1]!(false);
    expect(await joined).toBe(false);
    expect(await first).toBe(false);
  });

  it('after a run ends, the next request starts a new one; a stopped owner starts no pass', async () => {
    const { started, finish, pass } = manualPasses();
    let stopped = false;
    const run = new CoalescedRun(pass, () => stopped);
    const one = run.request('a');
    finish[0]!(false);
    expect(await one).toBe(false);
    const two = run.request('b');
    finish[1]!(true);
    expect(await two).toBe(true);
    stopped = true;
    expect(await run.request('c')).toBe(false);
    expect(started).toEqual(['a', 'b']);
  });
});
