import { describe, expect, it } from '@jest/globals';
import { guardLiveColor, type GuardInput } from '../../../src/registrar/live-guard.js';

const base: GuardInput = {
  service: 'app',
  container: 'blue-3',
  color: 'blue',
  image: 'app:2',
  version: undefined,
  live: 'blue',
  liveInstances: [
    { container: 'blue-1', image: 'app:1', version: '1' },
    { container: 'blue-2', image: 'app:1', version: '1' },
  ],
  allow: false,
};

describe('guarding the live color', () => {
  it('holds a live-color container with another image, naming the container and both images', () => {
    const d = guardLiveColor(base);
    expect(d.held).toBe(true);
    expect(d.held && d.reason).toContain(
      "held out of the live color blue of app: container blue-3's image app:2 differs from the live instances' app:1 (e.g. blue-1)",
    );
  });
  it('allows scaling the live color with the same image', () => {
    expect(guardLiveColor({ ...base, image: 'app:1' })).toEqual({ held: false });
    expect(guardLiveColor({ ...base, image: 'app:1', version: '1' })).toEqual({ held: false });
  });
  it('holds the same image with another SERVICE_VERSION', () => {
    const d = guardLiveColor({ ...base, image: 'app:1', version: '2' });
    expect(d.held && d.reason).toContain("SERVICE_VERSION 2 differs from the live instances' 1");
  });
  it('leaves the idle color, the first instance, uncolored containers and allowed ones alone', () => {
    expect(guardLiveColor({ ...base, color: 'green' }).held).toBe(false);
    expect(guardLiveColor({ ...base, liveInstances: [] }).held).toBe(false);
    expect(
      guardLiveColor({ ...base, liveInstances: [{ container: 'blue-3', image: 'app:1', version: undefined }] }).held,
    ).toBe(false);
    expect(guardLiveColor({ ...base, color: undefined }).held).toBe(false);
    expect(guardLiveColor({ ...base, allow: true }).held).toBe(false);
    expect(guardLiveColor({ ...base, live: undefined }).held).toBe(false);
  });
});
