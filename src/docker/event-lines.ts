import { StringDecoder } from 'node:string_decoder';
import { errorMessage } from '../errors.js';
import type { DockerEvent } from './docker-client.js';
import { cut } from '../log/text.js';

/**
 * Splits Docker's newline-delimited JSON event stream. One HTTP chunk may hold several events or
 * part of one, and a multi-byte character may straddle two chunks: bytes are decoded with a
 * StringDecoder and a partial last line is kept until its newline arrives.
 */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private rest = '';

  /** Complete lines in this chunk (plus what was held over), without their newlines; blank lines dropped. */
  push(chunk: Buffer | string): string[] {
    const text = this.rest + (typeof chunk === 'string' ? chunk : this.decoder.write(chunk));
    const parts = text.split('\n');
    this.rest = parts.pop() ?? '';
    return parts.map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '');
  }

  /** At end of stream: the last line if it lacked a trailing newline. */
  end(): string[] {
    const last = (this.rest + this.decoder.end()).trim();
    this.rest = '';
    return last ? [last] : [];
  }

  /** Bytes-as-characters held while waiting for a newline (bounded by the caller). */
  get pendingLength(): number {
    return this.rest.length;
  }
}

export type ParsedEvent = { ok: true; event: DockerEvent } | { ok: false; error: string; line: string };

/**
 * One line → a container event. A line that is not JSON or lacks the fields we need is reported,
 * never thrown: one bad line must not end the stream.
 */
export function parseEventLine(line: string): ParsedEvent {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (err) {
    return { ok: false, error: `not JSON (${errorMessage(err)})`, line: cut(line, 200) };
  }
  if (!raw || typeof raw !== 'object') return { ok: false, error: 'not a JSON object', line: cut(line, 200) };
  const o = raw as Record<string, unknown>;
  const actor = (o.Actor && typeof o.Actor === 'object' ? o.Actor : {}) as Record<string, unknown>;
  const id = typeof actor.ID === 'string' ? actor.ID : typeof o.id === 'string' ? o.id : '';
  const action = typeof o.Action === 'string' ? o.Action : typeof o.status === 'string' ? o.status : '';
  if (!id || !action) return { ok: false, error: 'no Actor.ID or Action', line: cut(line, 200) };
  const attributes: Record<string, string> = {};
  if (actor.Attributes && typeof actor.Attributes === 'object')
    for (const [k, v] of Object.entries(actor.Attributes as Record<string, unknown>))
      if (typeof v === 'string') attributes[k] = v;
  let timeNano: bigint;
  // timeNano (~1.7e18) does not fit a double exactly; read its digits from the text instead.
  const exact = /"timeNano"\s*:\s*(\d+)/.exec(line);
  if (exact) timeNano = BigInt(exact[1]!);
  else if (typeof o.timeNano === 'number' && Number.isFinite(o.timeNano)) timeNano = BigInt(Math.trunc(o.timeNano));
  else if (typeof o.time === 'number' && Number.isFinite(o.time))
    timeNano = BigInt(Math.trunc(o.time)) * 1_000_000_000n;
  else timeNano = BigInt(Date.now()) * 1_000_000n;
  return { ok: true, event: { action, id, timeNano, attributes } };
}

/** Docker's `since`: seconds since the epoch with a nanosecond fraction. */
export function sinceFromNanos(timeNano: bigint): string {
  const s = timeNano / 1_000_000_000n;
  const ns = timeNano % 1_000_000_000n;
  return `${s}.${ns.toString().padStart(9, '0')}`;
}
