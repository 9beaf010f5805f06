/**
 * Where the nginx reload path spends its time: a real nginx (master + workers) on the shipped
 * template, two loopback backends, and for each round a config that moves the traffic from one to the
 * other (what a switch renders). Each round is timed in the phases the driver waits for:
 *
 *   check      `nginx -t -q -c <candidate>` (LocalChecker: a process that parses the whole config)
 *   signal     SIGHUP to the master → a new worker appears among its children (PidSignalReloader)
 *   old exit   new worker seen → every old worker has exited (the driver waits for it, up to 2 s, so
 *              the renderer report is not written while old workers still accept connections)
 *   served     SIGHUP → a new connection is answered by the new backend
 *
 *   npm run build && node dist/bench/nginx-reload-phases.js [--rounds 30]
 *
 * Needs nginx (SWITCHYARD_NGINX_BIN or /usr/sbin/nginx). Ends the nginx and the backends it started
 * and removes its temp folder.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { silentLogger } from '../src/log/logger.js';
import { LocalChecker } from '../src/proxy/config-checker.js';
import { childPids, isAlive } from '../src/proxy/reloader.js';
import { EtaTemplateRenderer } from '../src/render/eta-template-renderer.js';
import { defaultTemplatePath } from '../src/render/render-options.js';
import { parseTemplateParams } from '../src/render/template-params.js';
import { buildSnapshot, DEFAULT_COLORS } from '../src/snapshot/build-snapshot.js';
import { freePort, sleep, waitFor } from './lib/stack.js';
import { formatSummary, summarize } from './lib/stats.js';

const ROUNDS = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 30;
const NGINX = process.env.SWITCHYARD_NGINX_BIN ?? '/usr/sbin/nginx';

function backend(name: string): Promise<http.Server> {
  const server = http.createServer((_req, res) => res.end(`${name} 1 bench\n`));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function get(port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body.split(' ')[0] ?? ''));
    });
    req.on('error', () => resolve('error'));
    req.on('timeout', () => req.destroy());
  });
}

const dir = mkdtempSync(path.join(tmpdir(), 'sy-bench-nginx-'));
const servers = [await backend('blue'), await backend('green')];
const ports = servers.map((s) => (s.address() as AddressInfo).port);
const mainPort = await freePort();
const pidFile = path.join(dir, 'nginx.pid');
const configPath = path.join(dir, 'nginx.conf');
const renderer = new EtaTemplateRenderer({
  templatePath: defaultTemplatePath('nginx'),
  params: parseTemplateParams({
    bind: '127.0.0.1',
    mainPort: String(mainPort),
    previewPort: '0',
    pidFile,
    errorLog: path.join(dir, 'error.log'),
    accessLog: 'off',
    tempDir: dir,
  }),
  logger: silentLogger(),
});
const config = (live: 'blue' | 'green') =>
  renderer.render(
    buildSnapshot(
      {
        health: new Map([
          [
            'app',
            (['blue', 'green'] as const).map((color, i) => ({
              node: 'bench',
              nodeAddress: '127.0.0.1',
              serviceId: `app-${color}`,
              serviceName: 'app',
              address: '127.0.0.1',
              port: ports[i]!,
              tags: [color],
              meta: { color },
              checks: [],
            })),
          ],
        ]),
        states: new Map([['app', { live }]]),
      },
      { colors: DEFAULT_COLORS, services: ['app'] },
    ).snapshot,
  );

const phases = { check: [] as number[], signal: [] as number[], oldExit: [] as number[], served: [] as number[] };
writeFileSync(configPath, config('blue'));
const nginx = spawn(NGINX, ['-c', configPath, '-g', 'daemon off;'], { stdio: 'ignore' });
try {
  await waitFor('nginx to serve blue', async () => (await get(mainPort)) === 'blue', 15_000);
  const master = Number(readFileSync(pidFile, 'utf8').trim());
  const checker = new LocalChecker('nginx', NGINX);
  for (let r = 0; r < ROUNDS; r++) {
    const live = r % 2 === 0 ? 'green' : 'blue';
    const candidate = path.join(dir, 'candidate.conf');
    writeFileSync(candidate, config(live));
    let t = performance.now();
    await checker.check(candidate);
    phases.check.push(performance.now() - t);
    writeFileSync(configPath, config(live));
    const before = (await childPids(master)) ?? new Set<number>();
    t = performance.now();
    process.kill(master, 'SIGHUP');
    const servedAt = (async () => {
      while ((await get(mainPort)) !== live) await sleep(2);
      return performance.now();
    })();
    for (;;) {
      const now = await childPids(master);
      if (now && [...now].some((p) => !before.has(p))) break;
      await sleep(2);
    }
    const forked = performance.now();
    phases.signal.push(forked - t);
    for (;;) {
      const now = await childPids(master);
      if (!now || ![...now].some((p) => before.has(p))) break;
      await sleep(2);
    }
    phases.oldExit.push(performance.now() - forked);
    phases.served.push((await servedAt) - t);
    await sleep(100);
  }
  if (!isAlive(master)) throw new Error('nginx exited during the bench');
} finally {
  nginx.kill('SIGQUIT');
  await new Promise((r) => nginx.once('exit', r));
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
}

console.log(`nginx-reload-phases: ${ROUNDS} reloads, shipped template, 2 backends, polling every 2 ms`);
console.log(`check (nginx -t)          ${formatSummary(summarize(phases.check))}`);
console.log(`SIGHUP → new worker       ${formatSummary(summarize(phases.signal))}`);
console.log(`new worker → old gone     ${formatSummary(summarize(phases.oldExit))}`);
console.log(`SIGHUP → new color served ${formatSummary(summarize(phases.served))}`);
