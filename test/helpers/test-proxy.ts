import { spawn, type ChildProcess } from 'node:child_process';
import { hasExited, stopChild } from './child.js';
import { haproxyBinary, nginxBinary } from './components.js';
import { waitFor } from './ports.js';

/**
 * A real HAProxy (master-worker, foreground) or nginx (master, foreground) that this test owns: its
 * config, pid file and logs live in a temp folder, and stop() ends exactly the process it started.
 */
export class TestProxy {
  private output = '';
  private constructor(
    readonly kind: 'haproxy' | 'nginx',
    private readonly child: ChildProcess,
    readonly dir: string,
    readonly configPath: string,
    readonly pidFile: string,
  ) {
    const collect = (b: Buffer) => {
      this.output = (this.output + b.toString()).slice(-20_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
  }

  get logs(): string {
    return this.output;
  }

  get exited(): boolean {
    return hasExited(this.child);
  }

  /** Starts the proxy on the config already written at `configPath` and waits until `port` answers. */
  static async start(
    kind: 'haproxy' | 'nginx',
    dir: string,
    configPath: string,
    pidFile: string,
    port: number,
  ): Promise<TestProxy> {
    const child =
      kind === 'haproxy'
        ? spawn(haproxyBinary(), ['-W', '-f', configPath, '-p', pidFile], { stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn(nginxBinary(), ['-c', configPath, '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const proxy = new TestProxy(kind, child, dir, configPath, pidFile);
    try {
      await waitFor(
        `${kind} to listen on 127.0.0.1:${port}`,
        async () => {
          if (proxy.exited) throw new Error(`${kind} exited: ${proxy.logs.slice(-2000)}`);
          const res = await fetch(`http://127.0.0.1:${port}/`);
          await res.text();
          return true;
        },
        15_000,
        50,
      );
    } catch (err) {
      // Not left running when it never answered.
      await proxy.stop();
      throw err;
    }
    return proxy;
  }

  stop(): Promise<void> {
    return stopChild(this.child, 5_000);
  }
}
