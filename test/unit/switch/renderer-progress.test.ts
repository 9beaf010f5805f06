import { describe, expect, it } from '@jest/globals';
import { describeProgress, rendererProgress } from '../../../src/switch/renderer-progress.js';
import type { RendererReport } from '../../../src/domain/service-state.js';

const at = '2030-01-01T00:00:00.000Z';

describe('render host progress after a switch', () => {
  it('is done only when every host serving the service shows the new live color', () => {
    const reports: RendererReport[] = [
      { node: 'lb1', at, services: { app: { live: 'green' } } },
      { node: 'lb2', at, services: { app: { live: 'blue' } } },
      { node: 'lb3', at, services: { other: { live: 'blue' } } },
    ];
    const p = rendererProgress('app', { live: 'green' }, reports);
    expect(p.done).toBe(false);
    expect(p.hosts.map((h) => [h.node, h.inSync])).toEqual([
      ['lb1', true],
      ['lb2', false],
    ]);
    expect(describeProgress(p)).toBe('1/2 render hosts serve green for app; waiting for lb2 (serves blue)');
    reports[1]!.services.app = { live: 'green' };
    expect(rendererProgress('app', { live: 'green' }, reports).done).toBe(true);
  });

  it('compares canary weights too', () => {
    const expectW = { live: 'blue', weights: { blue: 75, green: 25 } };
    expect(rendererProgress('app', expectW, [{ node: 'lb1', at, services: { app: { live: 'blue' } } }]).done).toBe(
      false,
    );
    expect(
      rendererProgress('app', expectW, [
        { node: 'lb1', at, services: { app: { live: 'blue', weights: { green: 25, blue: 75 } } } },
      ]).done,
    ).toBe(true);
  });

  it('is never done without any report', () => {
    const p = rendererProgress('app', { live: 'green' }, []);
    expect(p.done).toBe(false);
    expect(describeProgress(p)).toBe('no render host has reported serving app yet');
  });
});
