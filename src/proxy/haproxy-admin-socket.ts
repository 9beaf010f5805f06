import net from 'node:net';
import { ProxySocketError, errorMessage } from '../errors.js';

/**
 * One command on HAProxy's stats/admin socket (non-interactive mode: HAProxy answers and closes).
 * Rejects when the socket cannot be reached or does not answer within `timeoutMs`.
 */
export function haproxySocketCommand(socketPath: string, command: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ path: socketPath });
    let out = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ProxySocketError(`HAProxy socket ${socketPath} did not answer "${command}" within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.end(`${command}\n`));
    socket.on('data', (chunk: string) => (out += chunk));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(new ProxySocketError(`HAProxy socket ${socketPath}: ${errorMessage(err)}`, { cause: err }));
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

/** The pid of the worker answering on the admin socket (`show info`), or undefined when it cannot be asked. */
export async function servingWorkerPid(socketPath: string): Promise<number | undefined> {
  try {
    const m = /^Pid: (\d+)$/m.exec(await haproxySocketCommand(socketPath, 'show info', 1000));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

// HAProxy's interactive mode ends every answer (and the answer to `prompt` itself) with this.
const PROMPT = '\n> ';

/**
 * Several commands over one connection to HAProxy's admin socket, in interactive mode (`prompt`):
 * each command is sent once the answer to the one before has come, so a caller that stops at a
 * refused command stops the ones after it, as with one connection per command. One connection per
 * Runtime API update instead of one per command: a unix-socket connect and its teardown cost
 * HAProxy and us more CPU than most commands do. Connects on the first send(); close() when done.
 * Answers are what haproxySocketCommand() would return for the same command (callers trim them).
 */
export class HaproxySocketSession {
  private socket: net.Socket | undefined;
  private buffer = '';
  private failure: Error | undefined;
  private waiting: { resolve: (answer: string) => void; reject: (err: Error) => void } | undefined;

  constructor(
    private readonly socketPath: string,
    private readonly timeoutMs = 2000,
  ) {}

  async send(command: string): Promise<string> {
    if (!this.socket) {
      this.connect();
      await this.answer('prompt');
    }
    this.socket!.write(`${command}\n`);
    return this.answer(command);
  }

  close(): void {
    this.failure ??= new ProxySocketError(`HAProxy socket ${this.socketPath}: session closed`);
    this.socket?.end('quit\n');
    this.socket = undefined;
  }

  private connect(): void {
    const socket = net.createConnection({ path: this.socketPath });
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write('prompt\n'));
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      if (!this.buffer.endsWith(PROMPT) || !this.waiting) return;
      const answer = this.buffer.slice(0, -PROMPT.length + 1);
      this.buffer = '';
      const w = this.waiting;
      this.waiting = undefined;
      w.resolve(answer);
    });
    const fail = (err: Error) => {
      this.failure ??= err;
      const w = this.waiting;
      this.waiting = undefined;
      w?.reject(err);
    };
    socket.on('error', (err) =>
      fail(new ProxySocketError(`HAProxy socket ${this.socketPath}: ${errorMessage(err)}`, { cause: err })),
    );
    socket.on('close', () => fail(new ProxySocketError(`HAProxy socket ${this.socketPath} closed the session`)));
  }

  /** The answer to the command just sent: everything up to the next prompt. */
  private answer(command: string): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        this.failure ??= new ProxySocketError(
          `HAProxy socket ${this.socketPath} did not answer "${command}" within ${this.timeoutMs} ms`,
        );
        this.socket?.destroy();
        reject(this.failure);
      }, this.timeoutMs);
      this.waiting = {
        resolve: (a) => {
          clearTimeout(timer);
          resolve(a);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }
}
