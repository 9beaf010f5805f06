/**
 * Render cost at scale: 1,000 instances across 100 services (5 blue + 5 green each, some failing).
 * Times the snapshot build (Consul answers → frozen snapshot), the equality check the watcher runs on
 * every answer, and the shipped HAProxy and nginx templates; then checks each config once with the
 * real checker and reports how long that took.
 *
 *   npm run build && node dist/bench/render-scale.js [--services 100] [--per-service 10] [--rounds 30]
 *
 * Pure CPU apart from the one checker run per proxy; bounded by --rounds; writes only to a temp folder
 * it removes.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { HealthInstance } from '../src/consul/consul-client.js';
import { silentLogger } from '../src/log/logger.js';
import { EtaTemplateRenderer } from '../src/render/eta-template-renderer.js';
import { defaultTemplatePath } from '../src/render/render-options.js';
import { parseTemplateParams } from '../src/render/template-params.js';
import { buildSnapshot, DEFAULT_COLORS } from '../src/snapshot/build-snapshot.js';
import { snapshotsEqual } from '../src/snapshot/snapshot-diff.js';
import type { ServiceState } from '../src/domain/service-state.js';
import { formatSummary, summarize } from './lib/stats.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
}

const SERVICES = arg('services', 100);
const PER_SERVICE = arg('per-service', 10);
const ROUNDS = arg('rounds', 30);

function catalog(): { health: Map<string, HealthInstance[]>; states: Map<string, ServiceState> } {
  const health = new Map<string, HealthInstance[]>();
  const states = new Map<string, ServiceState>();
  for (let s = 0; s < SERVICES; s++) {
    const name = `svc-${String(s).padStart(3, '0')}`;
    const list: HealthInstance[] = [];
    for (let i = 0; i < PER_SERVICE; i++) {
      const color = i % 2 === 0 ? 'blue' : 'green';
      const id = `${name}-${i}`;
      list.push({
        node: `node-${i % 7}`,
        nodeAddress: `10.0.${i % 7}.1`,
        serviceId: id,
        serviceName: name,
        address: `10.${s % 250}.${i}.${(s * 7 + i) % 250}`,
        port: 8000 + i,
        tags: [color, 'http'],
        meta: { color, version: `1.${i}` },
        checks: [
          { checkId: 'serfHealth', name: 'Serf', status: 'passing', output: '', serviceId: '' },
          {
            checkId: `service:${id}`,
            name: 'http',
            status: i === 9 ? 'critical' : 'passing',
            output: '',
            serviceId: id,
          },
        ],
      });
    }
    health.set(name, list);
    states.set(
      name,
      s % 10 === 0 ? { live: 'green', previous: 'blue', weights: { green: 90, blue: 10 } } : { live: 'blue' },
    );
  }
  return { health, states };
}

function time(fn: () => void): number[] {
  const out: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t = performance.now();
    fn();
    out.push(performance.now() - t);
  }
  return out;
}

const sources = catalog();
const rules = { colors: DEFAULT_COLORS };
const instances = SERVICES * PER_SERVICE;
console.log(
  `render-scale: ${SERVICES} services, ${instances} instances, ${ROUNDS} rounds each (Node ${process.version})`,
);

const build = time(() => buildSnapshot(sources, rules));
console.log(`snapshot build     ${formatSummary(summarize(build))}`);
const a = buildSnapshot(sources, rules).snapshot;
const b = buildSnapshot(sources, rules).snapshot;
console.log(`snapshot equality  ${formatSummary(summarize(time(() => snapshotsEqual(a, b))))}`);

const tmp = mkdtempSync(path.join(tmpdir(), 'sy-bench-render-'));
try {
  for (const kind of ['haproxy', 'nginx'] as const) {
    const params = parseTemplateParams({
      bind: '127.0.0.1',
      mainPort: '18080',
      previewPort: '18081',
      statsPort: '0',
      log: 'none',
      adminSocket: path.join(tmp, 'admin.sock'),
      pidFile: path.join(tmp, `${kind}.pid`),
      errorLog: path.join(tmp, 'error.log'),
      accessLog: 'off',
      tempDir: tmp,
    });
    const renderer = new EtaTemplateRenderer({
      templatePath: defaultTemplatePath(kind),
      params,
      logger: silentLogger(),
    });
    let config = '';
    const render = time(() => {
      config = renderer.render(a);
    });
    const file = path.join(tmp, `${kind}.conf`);
    writeFileSync(file, config);
    const bin =
      kind === 'haproxy'
        ? (process.env.SWITCHYARD_HAPROXY_BIN ?? '/usr/sbin/haproxy')
        : (process.env.SWITCHYARD_NGINX_BIN ?? '/usr/sbin/nginx');
    const t = performance.now();
    let verdict = 'accepted';
    try {
      execFileSync(bin, kind === 'haproxy' ? ['-c', '-q', '-f', file] : ['-t', '-q', '-c', file], { stdio: 'pipe' });
    } catch (err) {
      verdict = `REJECTED: ${String((err as { stderr?: Buffer }).stderr ?? err).slice(0, 300)}`;
    }
    const check = performance.now() - t;
    console.log(
      `${kind.padEnd(7)} render     ${formatSummary(summarize(render))}  (${config.length} bytes, ${config.split('\n').length} lines)`,
    );
    console.log(`${kind.padEnd(7)} checker    ${check.toFixed(1)}ms once, ${verdict}`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
