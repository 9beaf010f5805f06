import { describe, expect, it } from '@jest/globals';
import { LineSplitter, parseEventLine, sinceFromNanos } from '../../../src/docker/event-lines.js';

const event = (id: string, action: string, timeNano: string) =>
  `{"status":"${action}","id":"${id}","Type":"container","Action":"${action}","Actor":{"ID":"${id}","Attributes":{"name":"web-${id}","color":"blüe"}},"scope":"local","time":1700000000,"timeNano":${timeNano}}`;

describe('LineSplitter', () => {
  it('yields every event whatever the chunk boundaries, including inside a multi-byte character', () => {
    const lines = [
      event('a', 'start', '1700000000123456789'),
      event('b', 'die', '1700000000223456789'),
      event('c', 'kill', '1700000000323456789'),
    ];
    const bytes = Buffer.from(lines.join('\n') + '\n');
    // Every split position, and one byte at a time.
    for (let cut = 1; cut < bytes.length; cut += 7) {
      const s = new LineSplitter();
      const out = [...s.push(bytes.subarray(0, cut)), ...s.push(bytes.subarray(cut)), ...s.end()];
      expect(out).toEqual(lines);
    }
    const s = new LineSplitter();
    const out: string[] = [];
    for (let i = 0; i < bytes.length; i++) out.push(...s.push(bytes.subarray(i, i + 1)));
    expect(out).toEqual(lines);
    expect(out.map((l) => parseEventLine(l)).every((p) => p.ok)).toBe(true);
  });

  it('holds a partial line until its newline, drops blank lines, and returns an unterminated last line at end', () => {
    const s = new LineSplitter();
    expect(s.push('{"a":1}\n\n{"b"')).toEqual(['{"a":1}']);
    expect(s.pendingLength).toBe(4);
    expect(s.push(':2}\r\n{"c":3}')).toEqual(['{"b":2}']);
    expect(s.end()).toEqual(['{"c":3}']);
    expect(s.end()).toEqual([]);
  });
});

describe('parseEventLine', () => {
  it('reads action, id, attributes and the exact nanosecond time', () => {
    const r = parseEventLine(event('abc', 'health_status: healthy', '1700000000123456789'));
    expect(r).toEqual({
      ok: true,
      event: {
        action: 'health_status: healthy',
        id: 'abc',
        timeNano: 1700000000123456789n,
        attributes: { name: 'web-abc', color: 'blüe' },
      },
    });
  });

  it('reports a bad line instead of throwing', () => {
    expect(parseEventLine('{"Action":')).toMatchObject({ ok: false, error: expect.stringContaining('not JSON') });
    expect(parseEventLine('[1,2]')).toMatchObject({ ok: false });
    expect(parseEventLine('{"Action":"start"}')).toMatchObject({ ok: false, error: 'no Actor.ID or Action' });
    const long = parseEventLine('x'.repeat(5000));
    expect(long.ok).toBe(false);
    if (!long.ok) expect(long.line.length).toBeLessThanOrEqual(200);
  });
});

describe('sinceFromNanos', () => {
  it('formats Docker since as seconds with a 9-digit fraction', () => {
    expect(sinceFromNanos(1700000000000000005n)).toBe('1700000000.000000005');
    expect(sinceFromNanos(1700000000123456789n)).toBe('1700000000.123456789');
  });
});
