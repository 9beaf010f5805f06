import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { createLogger, flushLogs } from '../../../src/log/logger.js';

/** A pipe whose reader is slow: each chunk is accepted only after a delay, as a full OS pipe does. */
function slowStream(delayMs: number): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    highWaterMark: 1024,
    write(chunk: Buffer, _enc, done) {
      setTimeout(() => {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      }, delayMs);
    },
  });
  return { stream, lines };
}

describe('flushLogs', () => {
  it('resolves only once every line logged in a burst has reached the output stream', async () => {
    const { stream, lines } = slowStream(1);
    const logger = createLogger({ json: true, stream });
    for (let i = 0; i < 300; i++) logger.info(`line ${i}`);
    // Without waiting, most of the burst is still inside winston or the stream's buffer.
    expect(lines.length).toBeLessThan(300);
    await expect(flushLogs(logger, 10_000)).resolves.toBe(true);
    expect(lines).toHaveLength(300);
    expect(JSON.parse(lines[299]!)).toMatchObject({ message: 'line 299' });
  });

  it('waits for a child logger’s lines too (the root logger’s stream)', async () => {
    const { stream, lines } = slowStream(1);
    const child = createLogger({ json: true, stream }).child({ component: 'registrar' });
    for (let i = 0; i < 50; i++) child.info(`child ${i}`);
    await expect(flushLogs(child, 10_000)).resolves.toBe(true);
    expect(lines).toHaveLength(50);
  });

  it('gives up after its bound when the reader stops reading', async () => {
    const stuck = new Writable({ highWaterMark: 16, write: () => undefined }); // never calls back
    const logger = createLogger({ json: true, stream: stuck });
    for (let i = 0; i < 20; i++) logger.info(`line ${i}`);
    const t0 = Date.now();
    await expect(flushLogs(logger, 100)).resolves.toBe(false);
    expect(Date.now() - t0).toBeLessThan(2_000);
  });
});

describe('createLogger levels', () => {
  function collect(): { stream: Writable; lines: () => Array<Record<string, unknown>> } {
    const out: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        out.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    return { stream, lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>) };
  }

  it('writes the lines at and above its level, from the root and child loggers, and none below', async () => {
    const { stream, lines } = collect();
    const logger = createLogger({ json: true, stream, level: 'info' });
    const child = logger.child({ component: 'render' });
    logger.debug('root debug');
    child.debug('child debug', { detail: 1 });
    logger.info('root info');
    child.warn('child warn', { detail: 2 });
    child.log('debug', 'child log debug');
    child.log('error', 'child log error');
    await flushLogs(logger, 5_000);
    expect(lines()).toEqual([
      expect.objectContaining({ level: 'info', message: 'root info' }),
      expect.objectContaining({ level: 'warn', message: 'child warn', component: 'render', detail: 2 }),
      expect.objectContaining({ level: 'error', message: 'child log error', component: 'render' }),
    ]);
  });

  it('writes debug lines at level debug', async () => {
    const { stream, lines } = collect();
    const child = createLogger({ json: true, stream, level: 'debug' }).child({ component: 'watch' });
    child.debug('seen', { n: 3 });
    await flushLogs(child, 5_000);
    expect(lines()).toEqual([expect.objectContaining({ level: 'debug', message: 'seen', component: 'watch', n: 3 })]);
  });
});
