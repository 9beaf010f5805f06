import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { haproxyBinary, nginxBinary } from '../../helpers/components.js';
import { freePort, waitFor } from '../../helpers/ports.js';

/** A tiny HTTP backend on loopback answering every request with `<label>\n`. */
export class TestBackend {
  private constructor(
    private readonly server: http.Server,
    readonly port: number,
    public label: string,
  ) {}

  static async start(label: string): Promise<TestBackend> {
    const port = await freePort();
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(`${backend.label}\n`);
    });
    const backend = new TestBackend(server, port, label);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    return backend;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * A real HAProxy (master-worker, foreground) or nginx (master, foreground) that this test owns: its
 * config, pid file and logs live in a temp folder, and stop() ends exactly the process it started.
 */
export class TestProxy {
  private output = '';
  /** Output kept: the tail of this many characters. */
  logLimit = 20_000;
  private constructor(
    readonly kind: 'haproxy' | 'nginx',
    private readonly child: ChildProcess,
    readonly dir: string,
    readonly configPath: string,
    readonly pidFile: string,
  ) {
    const collect = (b: Buffer) => {
      this.output = (this.output + b.toString()).slice(-this.logLimit);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
  }

  get logs(): string {
    return this.output;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
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
    return proxy;
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** GET through the proxy on a new connection; the status and the body, trimmed. */
export function get(port: number, host = 'web'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: '/', headers: { host }, agent: false, timeout: 5000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: body.trim() }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
  });
}

export { freePort, waitFor };
