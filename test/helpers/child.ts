import type { ChildProcess } from 'node:child_process';

/** Whether a child process has ended (by exit code or by signal). */
export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the child exited. */
export async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (hasExited(child)) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * A child process we started: its output kept (the latest `keep` characters, for error messages)
 * and, when asked, passed on line by line as it comes.
 */
export class OwnedProcess {
  output = '';
  private spawnFailed = false;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    private readonly keep = 20_000,
    onLine?: (line: string) => void,
  ) {
    child.on('error', (err) => {
      this.spawnFailed = true;
      this.output += `\n${name} could not start: ${err.message}\n`;
    });
    let partial = '';
    const collect = (b: Buffer) => {
      const s = b.toString();
      this.output = (this.output + s).slice(-this.keep);
      if (!onLine) return;
      partial += s;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        onLine(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
      }
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
  }

  get exited(): boolean {
    return this.spawnFailed || hasExited(this.child);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it exited. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.spawnFailed) await stopChild(this.child, graceMs);
  }
}
