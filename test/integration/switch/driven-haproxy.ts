import path from 'node:path';
import { PassThrough } from 'node:stream';
import { expect } from '@jest/globals';
import { Metrics } from '../../../src/http/metrics.js';
import { createLogger } from '../../../src/log/logger.js';
import { HaproxyDriver } from '../../../src/proxy/haproxy-driver.js';
import { HaproxyRuntimeApi } from '../../../src/proxy/haproxy-runtime-api.js';
import type { ApplyOutcome } from '../../../src/proxy/proxy-driver.js';
import { EtaTemplateRenderer } from '../../../src/render/eta-template-renderer.js';
import { parseTemplateParams } from '../../../src/render/template-params.js';
import type { Snapshot } from '../../../src/snapshot/snapshot.js';
import { haproxyBinary } from '../../helpers/components.js';
import { freePort, get, tempDir, TestBackend, TestProxy, waitFor } from '../proxy/proxy-fixtures.js';

const REPO = path.resolve(import.meta.dirname, '../../..');

export interface DrivenHaproxyOptions {
  /** Prefix of the temp folder. */
  prefix: string;
  /** Names of the test backends to start; each answers with its name. */
  backends: readonly string[];
  /** Template parameters on top of the loopback ports, `log=none` and the admin socket. */
  params?: Record<string, string>;
  /** `--colors`, when the test needs them. */
  colors?: readonly string[];
  /** The first snapshot, served before any test runs; it must route `web` to the backend `expectFirst`. */
  first: () => Snapshot;
  expectFirst: string;
}

/**
 * A real HAProxy (master-worker) driven by HaproxyDriver with the Runtime API on and the shipped
 * template, as the render role runs it: started on the first snapshot, its owed first reload paid, so
 * each test starts from a settled driver. Construct it, then start(): the snapshot callbacks of a test
 * can reach its backends once it is constructed.
 */
export class DrivenHaproxy {
  readonly backends: Record<string, TestBackend> = {};
  readonly metrics = new Metrics({ defaultMetrics: false });
  private readonly tmp: { dir: string; remove: () => void };
  readonly configPath: string;
  readonly pidFile: string;
  readonly adminSocket: string;
  private log = '';
  private readonly logStream = new PassThrough().on('data', (b: Buffer) => (this.log += b.toString()));
  readonly logger = createLogger({ stream: this.logStream, json: true, level: 'debug' });
  mainPort = 0;
  previewPort = 0;
  renderer!: EtaTemplateRenderer;
  driver!: HaproxyDriver;
  proxy: TestProxy | undefined;

  constructor(private readonly options: DrivenHaproxyOptions) {
    this.tmp = tempDir(options.prefix);
    this.configPath = path.join(this.tmp.dir, 'haproxy.cfg');
    this.pidFile = path.join(this.tmp.dir, 'haproxy.pid');
    this.adminSocket = path.join(this.tmp.dir, 'admin.sock');
  }

  /** Starts everything; close() cleans up after a failed start too. */
  async start(): Promise<void> {
    haproxyBinary();
    for (const name of this.options.backends) this.backends[name] = await TestBackend.start(name);
    this.mainPort = await freePort();
    this.previewPort = await freePort();
    this.renderer = new EtaTemplateRenderer({
      templatePath: path.join(REPO, 'templates/haproxy.cfg.eta'),
      params: parseTemplateParams({
        bind: '127.0.0.1',
        mainPort: String(this.mainPort),
        previewPort: String(this.previewPort),
        statsPort: '0',
        adminSocket: this.adminSocket,
        log: 'none',
        ...this.options.params,
      }),
      ...(this.options.colors ? { colors: [...this.options.colors] } : {}),
      logger: this.logger,
    });
    this.driver = new HaproxyDriver({
      configPath: this.configPath,
      pidFile: this.pidFile,
      adminSocket: this.adminSocket,
      logger: this.logger,
      metrics: this.metrics,
      binary: haproxyBinary(),
      runtime: new HaproxyRuntimeApi({ socketPath: this.adminSocket, logger: this.logger }),
    });
    await this.driver.start();
    const first = this.options.first();
    // No HAProxy runs yet: the file is installed and the reload owed; then HAProxy starts on it.
    await this.apply(first).catch(() => undefined);
    this.proxy = await TestProxy.start('haproxy', this.tmp.dir, this.configPath, this.pidFile, this.mainPort);
    const want = this.options.expectFirst;
    await waitFor(`HAProxy to serve ${want}`, async () => (await get(this.mainPort)).body === want, 15_000, 100);
    // The failed first reload is owed: this apply pays it.
    expect((await this.apply(first)).action).toBe('reloaded');
  }

  /** The driver's log so far (JSON lines). */
  get logText(): string {
    return this.log;
  }

  apply(s: Snapshot): Promise<ApplyOutcome> {
    return this.driver.apply({ config: this.renderer.render(s), snapshot: s, reason: 'test' });
  }

  /** Successful reloads so far. */
  async reloads(): Promise<number> {
    const m = await this.metrics.reloads.get();
    return m.values.filter((v) => v.labels.outcome === 'ok').reduce((n, v) => n + v.value, 0);
  }

  async close(): Promise<void> {
    await this.driver?.close().catch(() => undefined);
    await this.proxy?.stop();
    await Promise.all(Object.values(this.backends).map((b) => b.close()));
    this.tmp.remove();
  }
}
