/**
 * The fault soak (issue 12, docs/reliability.md): a real `switchyard run` (register + render, its
 * own process) on its OWN dockerd (test/helpers/docker-host.ts: the soak restarts dockerd, so it
 * never touches the shared one), a throw-away Consul agent and a real HAProxy, all owned here.
 *
 * For `durationMs` it keeps `containers` labelled containers churning across `services` services
 * and both colors (start, stop, kill, restart, health flapping through the Consul HTTP check), sends
 * HTTP load through the proxy with every service's Host, and every `faultIntervalMs` injects the
 * next fault of FAULTS. Once a second it observes Docker, Consul and HAProxy's runtime state and
 * feeds SoakInvariants (bench/lib/soak-invariants.ts); every config the daemon installs is checked
 * again with `haproxy -c`. Everything started is ended by handle, also on failure.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { haproxySocketCommand } from '../../src/proxy/haproxy-admin-socket.js';
import { parseServersState } from '../../src/proxy/haproxy-runtime-api-plan.js';
import { META_CONTAINER_ID, META_OWNER } from '../../src/registrar/meta-keys.js';
import { defaultTemplatePath } from '../../src/render/render-options.js';
import { TestConsulAgent } from '../../test/helpers/consul-agent.js';
import { DockerHost } from '../../test/helpers/docker-host.js';
import { appArgs } from '../../test/helpers/docker.js';
import { findBinary, freePort, sleep, Stack, waitFor, type Owned } from './stack.js';
import { KILL_GRACE_MS, SoakInvariants, type RegisteredInstance, type RunningContainer } from './soak-invariants.js';

const run = promisify(execFile);

export const FAULTS = [
  'switchyard-kill',
  'dockerd-restart',
  'consul-restart-lost',
  'proxy-master-kill',
  'consul-unreachable',
  'template-broken',
  'switch-during-fault',
] as const;
export type FaultName = (typeof FAULTS)[number];

export interface SoakOptions {
  durationMs: number;
  /** End once this many faults have run (and the last one settled), even before durationMs. */
  faultCount?: number;
  /** Running containers the churn keeps (it dips while a fault such as a dockerd restart lasts). */
  containers: number;
  services: number;
  faultIntervalMs: number;
  /** Time after a fault ends before the invariants count again. */
  settleMs: number;
  /** How long a ghost, a missing registration or a served-not-passing instance may last (N s). */
  thresholdMs: number;
  /** SIGSTOP of the Consul agent (Consul unreachable). */
  consulStopMs: number;
  /** Concurrent load clients (each: one GET at a time, fresh connection, random service). */
  loadClients: number;
  /** Pause between two churn operations of one churn worker. */
  churnPauseMs: number;
  churnWorkers: number;
  /** The built CLI (dist/src/cli/main.js). */
  cli: string;
  log: (line: string) => void;
  /** Keep the daemon's log lines here (a file path), for a failing run. */
  daemonLog?: string;
}

export interface FaultRecord {
  fault: FaultName;
  start: number;
  end: number;
  note: string;
}

export interface SoakReport {
  options: Omit<SoakOptions, 'log' | 'cli'>;
  startedAt: number;
  endedAt: number;
  faults: FaultRecord[];
  counters: {
    ghosts: number;
    missing: number;
    rejectedConfigsInstalled: number;
    servedNotPassing: number;
    failedRequestsOutsideFaults: number;
    /** Outside fault windows, within KILL_GRACE_MS of a churn SIGKILL (no drain is possible). */
    failedRequestsAfterSigkill: number;
    failedRequestsInsideFaults: number;
    switchesNotServed: number;
  };
  requests: { ok: number; failedByFault: Record<string, number> };
  /** The longest a ghost, a missing registration or a served-not-passing instance lasted (ms, settled times). */
  longestMs: Record<'ghosts' | 'missing' | 'servedNotPassing', number>;
  violations: string[];
  outsideFailures: Array<{ at: string; why: string }>;
  churn: Record<string, number>;
  configsChecked: number;
  containerStartMs: { count: number; p50: number; p90: number; max: number };
  maxRunning: number;
  minRunningOutsideFaults: number;
}

const COLORS = ['blue', 'green'] as const;

/**
 * The test image's app, made to behave as docs/operations.md asks of a real one: on SIGTERM it keeps
 * serving for 2 s (the drain: the proxies take it out of rotation meanwhile), then exits. The image's
 * own /bin/app exits at once, which cuts requests by design.
 */
const GRACEFUL_APP = [
  'mkdir -p /www',
  'echo "$COLOR 1 $(hostname)" > /www/index.html',
  'echo "$COLOR" > /www/health',
  'httpd -f -p 8080 -h /www & P=$!',
  'trap "sleep 2; kill $P; exit 0" TERM INT',
  'wait $P',
  'wait $P',
].join('; ');

interface FleetContainer {
  name: string;
  service: string;
  color: string;
  core: boolean;
}

interface Fleet {
  /** id → what it is; only containers this soak started. */
  byId: Map<string, FleetContainer>;
}

export async function runSoak(o: SoakOptions, signal?: AbortSignal): Promise<SoakReport> {
  const stack = new Stack(`soak${process.pid}`);
  const inv = new SoakInvariants(o.thresholdMs, o.settleMs);
  const faults: FaultRecord[] = [];
  const churn: Record<string, number> = {};
  const startTimes: number[] = [];
  const fleet: Fleet = { byId: new Map() };
  const services = Array.from({ length: o.services }, (_, i) => `soak${i + 1}`);
  const stop = new AbortController();
  const stopped = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
  let host: DockerHost | undefined;
  let agent: TestConsulAgent | undefined;
  let daemon: Owned | undefined;
  let proxy: { owned: Owned; pid: number } | undefined;
  let configsChecked = 0;
  let rejectedInstalled = 0;
  let switchesNotServed = 0;
  let maxRunning = 0;
  let minRunningOutside = Number.POSITIVE_INFINITY;
  const violationsText: string[] = [];
  const bump = (k: string) => (churn[k] = (churn[k] ?? 0) + 1);
  const haproxy = findBinary('haproxy', 'SWITCHYARD_HAPROXY_BIN');

  const dir = stack.dir;
  const configPath = path.join(dir, 'haproxy.cfg');
  const pidFile = path.join(dir, 'haproxy.pid');
  const adminSocket = path.join(dir, 'admin.sock');
  const templatePath = path.join(dir, 'haproxy.cfg.eta');
  const goodTemplate = readFileSync(defaultTemplatePath('haproxy'), 'utf8');
  writeFileSync(templatePath, goodTemplate);
  const startedAt = Date.now();

  try {
    o.log('starting the soak docker host (its own dockerd, bridge and data-root)');
    host = await DockerHost.start({ name: `soak-${process.pid % 10000}` });
    agent = await TestConsulAgent.start(`soak-${process.pid}`);
    const mainPort = await freePort();
    const previewPort = await freePort();
    const httpPort = await freePort();
    const h = host;
    const a = agent;

    const startDaemon = (): Owned => {
      const d = stack.spawn(
        'switchyard',
        process.execPath,
        [
          o.cli,
          'run',
          '--node-id',
          'soak',
          '--internal',
          '--network',
          'bridge',
          '--resync',
          '5s',
          '--proxy',
          'haproxy',
          '--proxy-binary',
          haproxy,
          '--template',
          templatePath,
          '--config',
          configPath,
          '--proxy-pid-file',
          pidFile,
          '--template-param',
          `bind=127.0.0.1,statsPort=0,log=none,mainPort=${mainPort},previewPort=${previewPort},adminSocket=${adminSocket}`,
          '--retry-delay',
          '1s',
          '--wait',
          '100ms:1s',
          '--restart-grace',
          '10s',
          '--http-listen',
          `127.0.0.1:${httpPort}`,
          '--kv-prefix',
          'soak',
          '--log-format',
          'json',
        ],
        { ...process.env, DOCKER_HOST: h.dockerHost, CONSUL_HTTP_ADDR: a.address },
        o.daemonLog ? (l) => writeFileSync(o.daemonLog!, `${l}\n`, { flag: 'a' }) : undefined,
      );
      return d;
    };

    const startProxy = async (): Promise<{ owned: Owned; pid: number }> => {
      const owned = stack.spawn('haproxy', haproxy, ['-W', '-f', configPath, '-p', pidFile]);
      await waitFor(
        'HAProxy to answer on its admin socket',
        async () => {
          if (owned.exited) throw new Error(`haproxy exited: ${owned.output.slice(-1500)}`);
          return (await haproxySocketCommand(adminSocket, 'show info').catch(() => '')).includes('Pid:');
        },
        30_000,
        100,
      );
      return { owned, pid: owned.child.pid! };
    };

    /** The soak's running containers, as Docker lists them, with what their labels say. */
    const soakContainers = async (): Promise<Map<string, FleetContainer>> => {
      const out = await h.docker(
        'ps',
        '--no-trunc',
        '--filter',
        'label=soak.core',
        '--format',
        '{{.ID}}\t{{.Names}}\t{{.Label "SERVICE_NAME"}}\t{{.Label "color"}}\t{{.Label "soak.core"}}',
      );
      const found = new Map<string, FleetContainer>();
      for (const line of out.split('\n').filter(Boolean)) {
        const [id = '', name = '', service = '', color = '', core = ''] = line.split('\t');
        found.set(id, { name, service, color, core: core === 'true' });
      }
      return found;
    };
    const startContainer = async (service: string, color: string, core: boolean): Promise<void> => {
      const name = `soak-${service}-${color}-${Math.random().toString(36).slice(2, 8)}`;
      const t0 = Date.now();
      const id = await h.run(
        [
          '--name',
          name,
          '--stop-timeout',
          '5',
          // The core comes back after a dockerd restart by itself, as a compose service would.
          ...(core ? ['--restart', 'unless-stopped'] : []),
          ...appArgs({ color, service }),
          '-l',
          `soak.core=${core}`,
        ],
        { cmd: ['sh', '-c', GRACEFUL_APP] },
      );
      startTimes.push(Date.now() - t0);
      fleet.byId.set(id, { name, service, color, core });
    };

    // The core: two containers per service and color that the churn leaves alone, so every service
    // always has a passing instance of each color (outside faults that take everything down).
    o.log(`starting ${o.containers} containers across ${o.services} services`);
    const core: Array<[string, string]> = [];
    for (const s of services) for (const c of COLORS) core.push([s, c], [s, c]);
    for (const [s, c] of core) await startContainer(s, c, true);
    while (fleet.byId.size < o.containers) {
      const s = services[fleet.byId.size % services.length]!;
      await startContainer(s, COLORS[Math.floor(fleet.byId.size / services.length) % 2]!, false);
    }

    daemon = startDaemon();
    await waitFor('the first config', () => existsSync(configPath), 60_000, 200);
    proxy = await startProxy();
    await waitFor(
      'every service served through HAProxy',
      async () => {
        for (const s of services) if ((await get(mainPort, s)).status !== 200) return false;
        return true;
      },
      120_000,
      500,
    );
    await waitFor(
      '/healthz 200',
      async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`).catch(() => undefined))?.status === 200,
      60_000,
      500,
    );
    // A stored live color per service, as after a first deploy: without one the live color is derived
    // from health, and flips whenever every blue instance is down for a moment.
    const live = new Map(services.map((s) => [s, 'blue']));
    const storeLive = async () => {
      for (const [s, color] of live)
        await run(process.execPath, [o.cli, 'switch', color, '--service', s, '--force', '--reason', 'soak'], {
          env: { ...process.env, CONSUL_HTTP_ADDR: a.address, SWITCHYARD_KV_PREFIX: 'soak' },
        });
    };
    await storeLive();
    o.log(`stack up: ${fleet.byId.size} containers, HAProxy on :${mainPort}, soaking for ${o.durationMs / 1000}s`);

    const soakStart = Date.now();
    const deadline = soakStart + o.durationMs;
    const running = () =>
      !stopped.aborted && Date.now() < deadline && (o.faultCount === undefined || faults.length < o.faultCount);
    let stackBusy = false; // a fault holds the fleet (dockerd down): the churn waits

    // --- load ---
    const loadLoop = async () => {
      while (running()) {
        const s = services[Math.floor(Math.random() * services.length)]!;
        const at = Date.now();
        const r = await get(mainPort, s);
        inv.request(at, r.status === 200, r.status === 200 ? '' : `${s} ${r.why}`, Date.now());
        await sleep(10);
      }
    };

    // --- churn ---
    const churnLoop = async () => {
      while (running()) {
        await sleep(o.churnPauseMs * (0.5 + Math.random()));
        if (stackBusy || !h.running) continue;
        try {
          await churnOnce();
        } catch (err) {
          bump(`error:${(err as Error).message.split('\n')[0]!.slice(0, 60)}`);
        }
      }
    };
    let reconciling = false;
    const churnOnce = async () => {
      if (!reconciling) {
        reconciling = true;
        try {
          const now = await soakContainers();
          // Reconcile the fleet with what runs: containers that ended (a dockerd restart) go, the
          // core is made whole again, and one whose `docker run` failed yet runs joins the fleet.
          for (const [id, c] of now) if (!fleet.byId.has(id)) fleet.byId.set(id, c);
          for (const [id, c] of [...fleet.byId])
            if (!now.has(id)) {
              fleet.byId.delete(id);
              await h.docker('rm', '-f', id).catch(() => undefined);
              if (c.core) await startContainer(c.service, c.color, true);
            }
        } finally {
          reconciling = false;
        }
      }
      const churners = [...fleet.byId.entries()].filter(([, c]) => !c.core);
      if (fleet.byId.size < o.containers || churners.length === 0) {
        const s = services[Math.floor(Math.random() * services.length)]!;
        await startContainer(s, COLORS[Math.floor(Math.random() * 2)]!, false);
        bump('start');
        return;
      }
      const [id, c] = churners[Math.floor(Math.random() * churners.length)]!;
      const op = ['stop', 'kill', 'restart', 'flap', 'flap', 'start'][Math.floor(Math.random() * 6)]!;
      bump(op);
      if (op === 'stop') {
        fleet.byId.delete(id);
        await h.docker('stop', '-t', '2', id);
        await h.docker('rm', '-f', id);
      } else if (op === 'kill') {
        fleet.byId.delete(id);
        inv.killed(Date.now());
        await h.docker('kill', id);
        await h.docker('rm', '-f', id);
      } else if (op === 'restart') {
        await h.docker('restart', '-t', '2', id);
      } else if (op === 'flap') {
        // Fail the Consul HTTP check for a few seconds, then pass again.
        await h.docker('exec', id, 'busybox', 'rm', '-f', '/www/health');
        setTimeout(
          () => void h.docker('exec', id, 'sh', '-c', `echo ${c.color} > /www/health`).catch(() => undefined),
          2_000 + Math.random() * 4_000,
        );
      } else {
        const s = services[Math.floor(Math.random() * services.length)]!;
        await startContainer(s, COLORS[Math.floor(Math.random() * 2)]!, false);
      }
    };

    // --- observe ---
    let lastConfigHash = '';
    const observe = async () => {
      const at = Date.now();
      const runningMap = new Map<string, RunningContainer>();
      let dockerOk = true;
      try {
        // What Docker runs, not what the harness believes it started: a `docker run` that failed on
        // the client's side (dockerd going down mid-answer) can still leave a container running,
        // which the registrar rightly registers.
        for (const [id, c] of await soakContainers()) runningMap.set(id, { id, name: c.name, service: c.service });
      } catch {
        dockerOk = false;
      }
      const registered = new Map<string, RegisteredInstance>();
      let consulOk = true;
      try {
        for (const s of services) {
          const res = await fetch(`${a.url}/v1/health/service/${s}`, { signal: AbortSignal.timeout(2_000) });
          const body = (await res.json()) as Array<{
            Service: { ID: string; Address: string; Port: number; Meta: Record<string, string> | null };
            Checks: Array<{ Status: string; ServiceID: string }>;
          }>;
          for (const e of body) {
            if (e.Service.Meta?.[META_OWNER] !== 'soak') continue;
            registered.set(e.Service.ID, {
              serviceId: e.Service.ID,
              service: s,
              containerId: e.Service.Meta[META_CONTAINER_ID] ?? '',
              endpoint: `${e.Service.Address}:${e.Service.Port}`,
              passing: e.Checks.every((ch) => ch.Status === 'passing'),
            });
          }
        }
      } catch {
        consulOk = false;
      }
      let served: Set<string> | undefined;
      try {
        const rows = parseServersState(await haproxySocketCommand(adminSocket, 'show servers state', 1_500));
        served = new Set(
          rows
            .filter((r) => r.address !== '0.0.0.0' && r.opState === 2 && (r.adminState & 0x2b) === 0 && r.weight > 0)
            .map((r) => `${r.address}:${r.port}`),
        );
      } catch {
        served = undefined;
      }
      if (dockerOk && consulOk) inv.observe({ at, running: runningMap, registered, served });
      if (dockerOk) {
        maxRunning = Math.max(maxRunning, runningMap.size);
        if (!inv.windowAt(at)) minRunningOutside = Math.min(minRunningOutside, runningMap.size);
      }
      // Every config the daemon installs must pass the checker it was checked with.
      try {
        const text = readFileSync(configPath, 'utf8');
        const hash = createHash('sha256').update(text).digest('hex');
        if (hash !== lastConfigHash) {
          lastConfigHash = hash;
          const copy = path.join(dir, 'installed-check.cfg');
          writeFileSync(copy, text);
          configsChecked += 1;
          const ok = await run(haproxy, ['-c', '-q', '-f', copy]).then(
            () => true,
            () => false,
          );
          if (!ok) {
            rejectedInstalled += 1;
            violationsText.push(`${new Date(at).toISOString()} an installed config fails haproxy -c`);
            copyFileSync(copy, path.join(dir, `rejected-${rejectedInstalled}.cfg`));
          }
        }
      } catch {
        // no config yet
      }
    };
    const observeLoop = async () => {
      while (running()) {
        const t0 = Date.now();
        await observe().catch(() => undefined);
        await sleep(Math.max(100, 1_000 - (Date.now() - t0)));
      }
    };

    // --- faults ---
    const healthy = async (): Promise<string> => {
      let last = '';
      try {
        await waitFor(
          '/healthz 200',
          async () => {
            const res = await fetch(`http://127.0.0.1:${httpPort}/healthz`).catch(() => undefined);
            last = res ? `${res.status} ${(await res.text()).trim()}` : 'no answer';
            return res?.status === 200;
          },
          90_000,
          250,
        );
        return 'healthz 200';
      } catch {
        return `healthz not 200 within 90s (last: ${last.slice(0, 600)})`;
      }
    };
    const killDaemon = async () => {
      daemon!.child.kill('SIGKILL');
      await new Promise<void>((r) => (daemon!.exited ? r() : daemon!.child.once('exit', () => r())));
    };
    const inject = async (fault: FaultName): Promise<string> => {
      switch (fault) {
        case 'switchyard-kill': {
          await killDaemon();
          await sleep(2_000);
          daemon = startDaemon();
          return healthy();
        }
        case 'dockerd-restart': {
          // The churn waits until the core is back by its restart policy: its own fleet check would
          // otherwise remove and replace core containers dockerd is still restarting.
          stackBusy = true;
          try {
            let slow = '';
            try {
              await h.restart();
            } catch (err) {
              // A dockerd that exited while starting (seen under load, next to its dying containerd)
              // gets one more start; one that runs but has not answered within the helper's 60 s
              // (many containers to restore) gets longer.
              if (!h.running) {
                slow = ` (its first start failed: ${String(err).split('\n')[0]!.slice(0, 120)}; started again)`;
                await h.startDaemon();
              }
              const t0 = Date.now();
              await waitFor(
                'the restarted dockerd to answer',
                () => h.docker('version').then(() => true),
                240_000,
                1_000,
              );
              slow += ` (answered ${Math.round((Date.now() - t0) / 1000)}s after the helper gave up)`;
            }
            const coreIds = [...fleet.byId].filter(([, c]) => c.core).map(([id]) => id);
            const back = await waitFor(
              'the core containers to run again',
              async () => {
                const now = new Set(await h.runningContainers());
                return coreIds.every((id) => now.has(id)) ? now.size : false;
              },
              60_000,
              500,
            ).catch(() => -1);
            return back < 0
              ? 'dockerd restarted; the core did not come back within 60s'
              : `dockerd restarted${slow}; ${back} containers running after it (the core, restart policy unless-stopped)`;
          } finally {
            stackBusy = false;
          }
        }
        case 'consul-restart-lost': {
          await a.restart();
          // The dev agent is also the server, so KV went with it; in a cluster the servers keep it.
          // Put the live colors back, as the servers would have them.
          const health = await healthy();
          await storeLive();
          return `${health}; live colors stored again`;
        }
        case 'proxy-master-kill': {
          const master = proxy!.pid;
          const workers = childrenOf(master);
          process.kill(master, 'SIGKILL');
          await waitFor('the HAProxy workers to exit', () => workers.every((w) => !alive(w)), 5_000, 50).catch(() => {
            for (const w of workers) if (alive(w)) process.kill(w, 'SIGKILL');
          });
          await sleep(1_000);
          proxy = await startProxy();
          return `master ${master} SIGKILLed (workers ${workers.join(',') || 'none'}), restarted as ${proxy.pid}`;
        }
        case 'consul-unreachable': {
          a.signal('SIGSTOP');
          await sleep(o.consulStopMs);
          a.signal('SIGCONT');
          return healthy();
        }
        case 'template-broken': {
          // A template that renders but that `haproxy -c` refuses: nothing may be installed from it.
          writeFileSync(templatePath, `${goodTemplate}\nbackend soak_broken\n    this-is-not-a-directive\n`);
          await sleep(10_000);
          writeFileSync(templatePath, goodTemplate);
          return healthy();
        }
        case 'switch-during-fault': {
          // A switch written while the daemon is down: it must be served once it is back.
          const service = services[faults.length % services.length]!;
          const current = (await get(mainPort, service)).body.split(' ')[0];
          const target = current === 'blue' ? 'green' : 'blue';
          await killDaemon();
          const sw = await run(
            process.execPath,
            [o.cli, 'switch', target, '--service', service, '--force', '--reason', 'soak'],
            { env: { ...process.env, CONSUL_HTTP_ADDR: a.address, SWITCHYARD_KV_PREFIX: 'soak' } },
          ).then(
            () => 'written',
            (err: Error) => `failed: ${err.message.split('\n')[0]}`,
          );
          await sleep(2_000);
          daemon = startDaemon();
          const health = await healthy();
          const served = await waitFor(
            `${service} to serve ${target}`,
            async () => (await get(mainPort, service)).body.startsWith(target),
            o.settleMs,
            250,
          ).then(
            () => true,
            () => false,
          );
          if (sw === 'written') live.set(service, target);
          if (!served) {
            switchesNotServed += 1;
            violationsText.push(`switch of ${service} to ${target} (${sw}) not served within ${o.settleMs} ms`);
          }
          return `switch ${service} → ${target} ${sw} with switchyard down; ${health}; ${served ? 'served' : 'NOT served'}`;
        }
      }
    };
    const faultLoop = async () => {
      let i = 0;
      while (running()) {
        await sleep(Math.min(o.faultIntervalMs, Math.max(0, deadline - Date.now())));
        if (!running()) break;
        const fault = FAULTS[i++ % FAULTS.length]!;
        const w = inv.faultStarted(fault, Date.now());
        o.log(`fault ${i}: ${fault}`);
        let note: string;
        try {
          note = await inject(fault);
        } catch (err) {
          note = `fault failed: ${(err as Error).message.split('\n')[0]}`;
        }
        inv.faultEnded(w, Date.now());
        faults.push({ fault, start: w.start, end: w.end!, note });
        o.log(`fault ${i}: ${fault} done after ${((w.end! - w.start) / 1000).toFixed(1)}s: ${note}`);
      }
    };

    await Promise.all([
      faultLoop(),
      observeLoop(),
      ...Array.from({ length: o.loadClients }, loadLoop),
      ...Array.from({ length: o.churnWorkers }, churnLoop),
    ]);
    // The last fault's settle time is not observed by the loops above: watch it to the end.
    const tailUntil = Math.max(...inv.windows.map((w) => (w.end ?? 0) + o.settleMs), 0) + o.thresholdMs + 1_000;
    while (Date.now() < tailUntil && !stopped.aborted) {
      await observe().catch(() => undefined);
      await sleep(1_000);
    }
  } finally {
    stop.abort();
    await stack.close().catch(() => undefined);
    await host?.close().catch((err: unknown) => o.log(`closing the docker host: ${String(err)}`));
    await agent?.stop().catch(() => undefined);
  }

  for (const v of inv.violations)
    violationsText.push(
      `${new Date(v.at).toISOString()} ${v.counter}: ${v.detail} (since ${new Date(v.since).toISOString()})`,
    );
  const sorted = [...startTimes].sort((x, y) => x - y);
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
  const { log: _log, cli: _cli, ...shown } = o;
  return {
    options: shown,
    startedAt,
    endedAt: Date.now(),
    faults,
    counters: {
      ghosts: inv.count('ghosts'),
      missing: inv.count('missing'),
      rejectedConfigsInstalled: rejectedInstalled,
      servedNotPassing: inv.count('servedNotPassing'),
      failedRequestsOutsideFaults: inv.requests.failedOutside,
      failedRequestsAfterSigkill: inv.requests.failedAfterKill,
      failedRequestsInsideFaults: inv.requests.failedInside,
      switchesNotServed,
    },
    requests: { ok: inv.requests.ok, failedByFault: inv.requests.failedByFault },
    longestMs: { ...inv.longest },
    violations: violationsText,
    outsideFailures: inv.outsideFailures.map((f) => ({ at: new Date(f.at).toISOString(), why: f.why })),
    churn,
    configsChecked,
    containerStartMs: { count: sorted.length, p50: pct(50), p90: pct(90), max: sorted.at(-1) ?? 0 },
    maxRunning,
    minRunningOutsideFaults: Number.isFinite(minRunningOutside) ? minRunningOutside : 0,
  };
}

/** One GET through the proxy with `Host: service`, on a new connection; never rejects. */
function get(port: number, service: string): Promise<{ status: number; body: string; why: string }> {
  return new Promise((resolve) => {
    const req = http.get(
      // 10 s: a request HAProxy retries elsewhere after its 5 s connect timeout still succeeds.
      { host: '127.0.0.1', port, path: '/', headers: { host: service }, agent: false, timeout: 10_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('error', (e: NodeJS.ErrnoException) =>
          resolve({ status: 0, body, why: `error:${e.code ?? e.message}` }),
        );
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: body.trim(), why: `status:${res.statusCode ?? 0}` }),
        );
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) =>
      resolve({ status: 0, body: '', why: `error:${e.code ?? e.message}` }),
    );
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Direct children of `pid` (the HAProxy workers of a master), from /proc. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function formatReport(r: SoakReport): string {
  const c = r.counters;
  const mins = ((r.endedAt - r.startedAt) / 60_000).toFixed(1);
  const lines = [
    `soak: ${mins} min wall time (${r.options.durationMs / 60_000} min soaking), ${r.options.containers} containers target (max ${r.maxRunning} running, min ${r.minRunningOutsideFaults} outside faults), ${r.options.services} services, a fault every ${r.options.faultIntervalMs / 1000}s`,
    `container start (docker run on the soak dockerd, vfs): p50 ${r.containerStartMs.p50} ms, p90 ${r.containerStartMs.p90} ms, max ${r.containerStartMs.max} ms over ${r.containerStartMs.count}`,
    `churn: ${Object.entries(r.churn)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
    `requests: ${r.requests.ok} ok, ${c.failedRequestsOutsideFaults} failed outside fault windows (+${c.failedRequestsAfterSigkill} within ${KILL_GRACE_MS / 1000}s of a churn SIGKILL), ${c.failedRequestsInsideFaults} failed inside (${Object.entries(
      r.requests.failedByFault,
    )
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')})`,
    `ghosts ${c.ghosts}, missing ${c.missing}, rejected configs installed ${c.rejectedConfigsInstalled} (of ${r.configsChecked} checked), served while not passing ${c.servedNotPassing}, switches not served ${c.switchesNotServed} (N = ${r.options.thresholdMs / 1000}s)`,
    `longest at settled times: ghost ${(r.longestMs.ghosts / 1000).toFixed(1)}s, missing ${(r.longestMs.missing / 1000).toFixed(1)}s, served while not passing ${(r.longestMs.servedNotPassing / 1000).toFixed(1)}s`,
    ...r.faults.map(
      (f) => `  ${new Date(f.start).toISOString()} ${f.fault} (${((f.end - f.start) / 1000).toFixed(1)}s): ${f.note}`,
    ),
    ...r.violations.slice(0, 30).map((v) => `  VIOLATION ${v}`),
    ...(r.violations.length > 30 ? [`  … ${r.violations.length - 30} more violations (see --json)`] : []),
    ...r.outsideFailures.slice(0, 10).map((f) => `  failed outside a fault: ${f.at} ${f.why}`),
  ];
  return lines.join('\n');
}
