import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { get } from '../../helpers/http-get.js';
import { freePort, waitFor } from '../../helpers/ports.js';
import { TestProxy } from '../../helpers/test-proxy.js';

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

export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export { freePort, get, TestProxy, waitFor };
