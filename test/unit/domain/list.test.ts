import { describe, expect, it } from '@jest/globals';
import { splitList } from '../../../src/domain/list.js';

describe('splitList', () => {
  it('reads comma-separated items, trimmed, in order', () => {
    expect(splitList('blue,green')).toEqual(['blue', 'green']);
    expect(splitList(' v2 ,  canary,blue ')).toEqual(['v2', 'canary', 'blue']);
    expect(splitList('web')).toEqual(['web']);
  });

  it('drops empty items, so a stray or trailing comma is harmless', () => {
    expect(splitList('a,,b,')).toEqual(['a', 'b']);
    expect(splitList(',a')).toEqual(['a']);
    expect(splitList('')).toEqual([]);
    expect(splitList(' , ,')).toEqual([]);
  });

  it('keeps repeats and inner spaces for the caller to judge', () => {
    expect(splitList('a,a')).toEqual(['a', 'a']);
    expect(splitList('a b,c')).toEqual(['a b', 'c']);
  });
});
