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
