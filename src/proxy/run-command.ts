import { spawn } from 'node:child_process';

export interface CommandResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr interleaved, the last 64 KiB. */
  output: string;
  timedOut: boolean;
}

const MAX_OUTPUT = 64 * 1024;

/**
 * Runs a program (no shell unless the caller asks for `sh -c`) and collects its output. Bounded: after
 * `timeoutMs` the child gets SIGTERM, then SIGKILL 2 s later. Never rejects for a non-zero exit; it
 * rejects only when the program cannot be started (ENOENT, EACCES).
 */
export function runCommand(argv: readonly string[], options: { timeoutMs?: number } = {}): Promise<CommandResult> {
  const [file, ...args] = argv;
  if (!file) return Promise.reject(new Error('empty command'));
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let timedOut = false;
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-MAX_OUTPUT);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 2000);
    }, options.timeoutMs ?? 30_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      reject(err);
    });
    child.once('close', (exitCode, signal) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      resolve({ exitCode, signal, output: output.trim(), timedOut });
    });
  });
}

/** "exited with 1", "was killed by SIGTERM", "timed out after 30000 ms". */
export function describeExit(r: CommandResult, timeoutMs: number): string {
  if (r.timedOut) return `timed out after ${timeoutMs} ms`;
  if (r.signal) return `was killed by ${r.signal}`;
  return `exited with ${r.exitCode}`;
}
