import { describe, expect, it } from '@jest/globals';
import { deepEqual } from '../../../src/snapshot/deep-equal.js';

describe('deepEqual', () => {
  it('compares plain objects by their own keys whatever the order, arrays by position', () => {
    expect(deepEqual({ a: 1, b: [1, { c: 'x' }] }, { b: [1, { c: 'x' }], a: 1 })).toBe(true);
    expect(deepEqual([1, 2], [2, 1])).toBe(false);
    expect(deepEqual({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(deepEqual({ a: 1, b: 2 }, { a: 1 })).toBe(false);
    expect(deepEqual({ a: 1, b: 2 }, { a: 1, c: 2 })).toBe(false);
    expect(deepEqual({ a: { b: 1 } }, { a: { b: 2 } })).toBe(false);
    expect(deepEqual({ a: [] }, { a: {} })).toBe(false);
    expect(deepEqual(NaN, NaN)).toBe(true);
    expect(deepEqual({ a: null }, { a: undefined })).toBe(false);
  });

  it('treats a key holding undefined as absent, on either side', () => {
    expect(deepEqual({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(deepEqual({ a: 1 }, { a: 1, b: undefined })).toBe(true);
    expect(deepEqual({ a: undefined, b: 1 }, { b: 1, c: undefined })).toBe(true);
    expect(deepEqual({ a: 1, b: undefined }, { a: 1, b: 2 })).toBe(false);
    expect(deepEqual({ a: 1, b: 2 }, { a: 1, b: undefined })).toBe(false);
  });

  it('ignores inherited keys and compares Maps by entries', () => {
    const proto = { inherited: 1 };
    const withProto = Object.assign(Object.create(proto) as Record<string, unknown>, { a: 1 });
    expect(deepEqual(withProto, { a: 1 })).toBe(true);
    expect(deepEqual({ a: 1 }, withProto)).toBe(true);
    expect(deepEqual(new Map([['k', { v: 1 }]]), new Map([['k', { v: 1 }]]))).toBe(true);
    expect(deepEqual(new Map([['k', { v: 1 }]]), new Map([['k', { v: 2 }]]))).toBe(false);
    expect(deepEqual(new Map([['k', 1]]), { k: 1 })).toBe(false);
  });
});
