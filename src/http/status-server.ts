import type { AddressInfo } from 'node:net';
import { ConfigError, errorMessage } from '../errors.js';
import { once, withTimeout, type Lifecycle } from '../lifecycle.js';
import type { Logger } from '../log/logger.js';
import { http, type IncomingMessage, type Server, type ServerResponse } from '../node-http.js';
import { healthReport, type HealthSource } from './health.js';
import type { Metrics } from './metrics.js';
import { STATUS_PAGE_HTML } from './status-page.js';

export interface StatusServerOptions {
  host: string;
  /** 0 picks a free port (tests); see address() for the one chosen. */
  port: number;
  metrics: Metrics;
  health: HealthSource;
  logger: Logger;
  /** What the status page shows (GET /api/overview as JSON, GET / as the page); unset: no page. */
  overview?: () => Promise<unknown>;
  /** Bound on close(); open keep-alive connections are cut after it. */
  closeTimeoutMs?: number;
}

/**
 * GET /healthz (200 when every part is healthy, else 503, with each part's status as JSON) and
 * GET /metrics (Prometheus text format). Read-only; nothing here changes the daemon.
 */
export class StatusServer implements Lifecycle {
  private readonly server: Server;
  private readonly logger: Logger;
  private listening: Promise<void> | undefined;

  constructor(private readonly options: StatusServerOptions) {
    this.logger = options.logger.child({ component: 'http' });
    this.server = http.createServer((req, res) => void this.handle(req, res));
    // A scraper that stalls must not hold a socket for ever.
    this.server.requestTimeout = 10_000;
    this.server.headersTimeout = 10_000;
    this.server.keepAliveTimeout = 5_000;
  }

  /** The bound address once started. */
  address(): { host: string; port: number } | undefined {
    const a = this.server.address() as AddressInfo | null;
    return a ? { host: a.address, port: a.port } : undefined;
  }

  start(): Promise<void> {
    this.listening ??= new Promise<void>((resolve, reject) => {
      const where = `${this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host}:${this.options.port}`;
      const onError = (err: NodeJS.ErrnoException) => {
        const why =
          err.code === 'EADDRINUSE'
            ? 'the address is already in use'
            : err.code === 'EADDRNOTAVAIL'
              ? 'no local interface has that address'
              : err.code === 'EACCES'
                ? 'permission denied'
                : errorMessage(err);
        reject(
          new ConfigError(`cannot serve /healthz and /metrics on ${where}: ${why} (--http-listen)`, { cause: err }),
        );
      };
      this.server.once('error', onError);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', onError);
        this.server.on('error', (err) => this.logger.warn(`HTTP server error: ${errorMessage(err)}`));
        const a = this.address();
        this.logger.info(`serving /healthz and /metrics on ${where.replace(/:0$/, `:${a?.port ?? 0}`)}`);
        resolve();
      });
    });
    return this.listening;
  }

  readonly close = once(async (): Promise<void> => {
    // Called before start() finished: wait for the listen to settle, then close what exists.
    await this.listening?.catch(() => undefined);
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    try {
      await withTimeout(closed, this.options.closeTimeoutMs ?? 2_000, 'closing the HTTP server');
    } catch {
      this.server.closeAllConnections();
    }
  });

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    try {
      if (path === '/healthz') {
        const report = healthReport(this.options.health.partStates());
        const body = `${JSON.stringify(report)}\n`;
        res
          .writeHead(report.status === 'ok' ? 200 : 503, {
            'content-type': 'application/json',
            'cache-control': 'no-store',
          })
          .end(req.method === 'HEAD' ? undefined : body);
      } else if (path === '/metrics') {
        const registry = this.options.metrics.registry;
        const body = await registry.metrics();
        res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : body);
      } else if (path === '/' && this.options.overview) {
        res
          .writeHead(200, {
            'content-type': 'text/html; charset=utf-8',
            'cache-control': 'no-store',
            // Read-only and self-contained: nothing but this origin, no inline handlers but its own script.
            'content-security-policy':
              "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'",
            'x-content-type-options': 'nosniff',
          })
          .end(req.method === 'HEAD' ? undefined : STATUS_PAGE_HTML);
      } else if (path === '/api/overview' && this.options.overview) {
        const body = `${JSON.stringify(await this.options.overview())}\n`;
        res
          .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
          .end(req.method === 'HEAD' ? undefined : body);
      } else if (path === '/') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('switchyard: see /healthz and /metrics\n');
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz or /metrics\n');
      }
    } catch (err) {
      this.logger.warn(`could not answer ${req.method} ${path}: ${errorMessage(err)}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error\n');
    }
  }
}
