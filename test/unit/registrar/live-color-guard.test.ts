import { describe, expect, it } from '@jest/globals';
import {
  allowsLiveMix,
  guardLiveColor,
  isHoldReason,
  sameVersion,
  type CatalogInstance,
  type LiveColorView,
} from '../../../src/registrar/live-color-guard.js';

const V1 = 'sha256:1111111111111111111111111111111111111111111111111111111111111111';
const V2 = 'sha256:2222222222222222222222222222222222222222222222222222222222222222';

function meta(image: string, imageId: string | undefined, extra: Record<string, string> = {}): Record<string, string> {
  return {
    color: 'blue',
    container_name: 'web-blue-3',
    image,
    ...(imageId ? { image_id: imageId } : {}),
    ...extra,
  };
}
const candidate = (m: Record<string, string>) => ({ id: 'node-a:web-blue-3:8080', meta: m });
function inst(id: string, m: Record<string, string>, maintenance?: string): CatalogInstance {
  return { serviceId: id, node: 'node-b', meta: m, ...(maintenance !== undefined ? { maintenance } : {}) };
}
const blueLive = (...instances: CatalogInstance[]): LiveColorView => ({ live: 'blue', instances });

describe('guardLiveColor', () => {
  it('holds a new instance of the live color that runs another image, naming the container and both images', () => {
    const v = guardLiveColor(candidate(meta('shop/web:2', V2)), blueLive(inst('b1', meta('shop/web:1', V1))), false);
    expect(v).toEqual({
      held: true,
      reason: 'switchyard: held out of the live color: container web-blue-3 runs shop/web:2, live blue runs shop/web:1',
    });
    expect(v.held && isHoldReason(v.reason)).toBe(true);
  });

  it('lets the same image scale the live color, even under another tag (same image ID)', () => {
    const live = blueLive(inst('b1', meta('shop/web:1', V1)));
    expect(guardLiveColor(candidate(meta('shop/web:1', V1)), live, false)).toEqual({
      held: false,
      why: 'same-version',
    });
    expect(guardLiveColor(candidate(meta('shop/web:stable', V1)), live, false)).toEqual({
      held: false,
      why: 'same-version',
    });
  });

  it('a rebuilt tag is another version: same name, other image ID, and the reason shows the IDs', () => {
    const v = guardLiveColor(
      candidate(meta('shop/web:latest', V2)),
      blueLive(inst('b1', meta('shop/web:latest', V1))),
      false,
    );
    expect(v).toMatchObject({ held: true });
    expect(v.held && v.reason).toContain(
      'runs shop/web:latest (222222222222), live blue runs shop/web:latest (111111111111)',
    );
  });

  it('compares image names when an instance does not say its image ID (registered before image_id existed)', () => {
    const live = blueLive(inst('b1', meta('shop/web:1', undefined)));
    expect(guardLiveColor(candidate(meta('shop/web:1', V2)), live, false).held).toBe(false);
    expect(guardLiveColor(candidate(meta('shop/web:2', V2)), live, false).held).toBe(true);
  });

  it('SERVICE_VERSION counts: same image, other version is held', () => {
    const v = guardLiveColor(
      candidate(meta('shop/web:1', V1, { version: '1.1' })),
      blueLive(inst('b1', meta('shop/web:1', V1, { version: '1.0' }))),
      false,
    );
    expect(v).toMatchObject({ held: true });
    expect(v.held && v.reason).toContain(
      'runs shop/web:1 (111111111111) version 1.1, live blue runs shop/web:1 (111111111111) version 1.0',
    );
  });

  it('never judges the idle color, or a service without a live color', () => {
    const c = candidate(meta('shop/web:2', V2, { color: 'green' }));
    expect(guardLiveColor(c, blueLive(inst('b1', meta('shop/web:1', V1))), false)).toEqual({
      held: false,
      why: 'not-live',
    });
    expect(guardLiveColor(candidate(meta('shop/web:2', V2)), { live: undefined, instances: [] }, false)).toEqual({
      held: false,
      why: 'not-live',
    });
    expect(guardLiveColor(candidate(meta('shop/web:2', V2)), undefined, false).held).toBe(false);
  });

  it('with nothing to compare with (no other instance, only held ones, or ones without image Meta) it does not hold', () => {
    const c = candidate(meta('shop/web:2', V2));
    const held = 'switchyard: held out of the live color: container x runs shop/web:3, live blue runs shop/web:1';
    expect(guardLiveColor(c, blueLive(), false)).toEqual({ held: false, why: 'no-other-instance' });
    // Its own registration is not a reference either.
    expect(guardLiveColor(c, blueLive(inst(c.id, meta('shop/web:2', V2), held)), false).held).toBe(false);
    expect(guardLiveColor(c, blueLive(inst('b9', meta('shop/web:3', undefined), held)), false).held).toBe(false);
    expect(guardLiveColor(c, blueLive(inst('hand', { color: 'blue' })), false).held).toBe(false);
  });

  it('a draining live instance still counts: it serves the live version until it exits', () => {
    const draining = 'switchyard: container is stopping (drain) since 2026-12-01T12:00:00.000Z';
    expect(
      guardLiveColor(candidate(meta('shop/web:2', V2)), blueLive(inst('b1', meta('shop/web:1', V1), draining)), false)
        .held,
    ).toBe(true);
  });

  it('matches any one live version when the live color already mixes several on purpose', () => {
    const live = blueLive(inst('b1', meta('shop/web:1', V1)), inst('b2', meta('shop/web:2', V2)));
    expect(guardLiveColor(candidate(meta('shop/web:2', V2)), live, false).held).toBe(false);
    const v = guardLiveColor(candidate(meta('shop/web:3', 'sha256:3')), live, false);
    expect(v.held && v.reason).toContain('live blue runs shop/web:1 and shop/web:2');
  });

  it('allowed (flag or label): never held', () => {
    expect(
      guardLiveColor(candidate(meta('shop/web:2', V2)), blueLive(inst('b1', meta('shop/web:1', V1))), true),
    ).toEqual({
      held: false,
      why: 'allowed',
    });
  });
});

describe('allowsLiveMix / sameVersion', () => {
  it('reads the label as a boolean; anything else is no', () => {
    expect(allowsLiveMix({ 'switchyard.allow-live-mix': 'true' })).toBe(true);
    expect(allowsLiveMix({ 'switchyard.allow-live-mix': ' YES ' })).toBe(true);
    expect(allowsLiveMix({ 'switchyard.allow-live-mix': 'false' })).toBe(false);
    expect(allowsLiveMix({ 'switchyard.allow-live-mix': 'maybe' })).toBe(false);
    expect(allowsLiveMix({})).toBe(false);
  });

  it('is symmetric on a missing version', () => {
    expect(sameVersion(meta('a', V1, { version: '1' }), meta('a', V1))).toBe(false);
    expect(sameVersion(meta('a', V1), meta('a', V1, { version: '1' }))).toBe(false);
  });
});
