import { describe, expect, it } from '@jest/globals';
import { parseSteps } from '../../../src/cli/values.js';

describe('parseSteps', () => {
  it('reads rising percentages', () => {
    expect(parseSteps('5,25,50,100')).toEqual([5, 25, 50, 100]);
    expect(parseSteps(' 10 ')).toEqual([10]);
  });
  it('says what is wrong', () => {
    expect(() => parseSteps('5,x')).toThrow('expected comma-separated percentages');
    expect(() => parseSteps('0,50')).toThrow('from 1 to 100');
    expect(() => parseSteps('50,25')).toThrow('steps must rise');
    expect(() => parseSteps('5,150')).toThrow('from 1 to 100');
  });
});
