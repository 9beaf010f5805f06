import type { ConsulClient } from '../consul/consul-client.js';
import { Daemon, closeOnly } from '../daemon.js';
import { DockerodeDockerClient } from '../docker/dockerode-docker-client.js';
import { ConfigError, errorMessage } from '../errors.js';
import { Metrics } from '../http/metrics.js';
import { StatusServer } from '../http/status-server.js';
import type { Logger } from '../log/logger.js';
import { HaproxyDriver } from '../proxy/haproxy-driver.js';
import { HaproxyRuntimeApi } from '../proxy/haproxy-runtime-api.js';
import { NginxDriver } from '../proxy/nginx-driver.js';
import type { ProxyDriver } from '../proxy/proxy-driver.js';
import type { ProxyProcessOptions } from '../proxy/proxy-process.js';
import { HaproxyStatsSource, NginxTrafficLogSource, type TrafficCounterSource } from '../proxy/traffic-counters.js';
import { Registrar, type RegistrarOptions } from '../registrar/registrar.js';
import type { Selection } from '../registrar/service-definitions.js';
import { DEFAULT_CONTAINER_CONFIG_DIR, type RenderOptions } from '../render/render-options.js';
import { RenderRole, renderSettings, type RenderSettings } from '../render/render-role.js';
import { RolloutExecutor } from '../rollout/executor.js';
import { readOverview } from '../rollout/overview.js';
import { ConsulLiveColors } from '../switch/live-colors.js';
import { SwitchControl } from '../switch/switch-control.js';
import type { CommonOptions } from './common-options.js';
import { consulClient } from './compose-consul.js';
import type { HttpOptions } from './http-options.js';

/**
 * The composition root: the one place that turns parsed options into parts and wires them
 * together. Commands call these; nothing below src/cli/ constructs an adapter or a driver.
 */

export { consulClient };

export function dockerClient(o: Pick<CommonOptions, 'dockerHost'>, logger: Logger): DockerodeDockerClient {
  try {
    return new DockerodeDockerClient({ ...(o.dockerHost ? { host: o.dockerHost } : {}), logger });
  } catch (err) {
    throw new ConfigError(`option '--docker-host' (DOCKER_HOST): ${errorMessage(err)}`, { cause: err });
  }
}

/**
 * Where the proxy runs and how to check and reload it, from the render options. The checker and the
 * reloader are then picked from this by src/proxy/proxy-process.ts, for the driver and for
 * `render --once --dry` alike; `--no-reload` installs only but keeps checking as usual.
 */
export function proxyProcess(o: RenderOptions, s: RenderSettings, docker?: DockerodeDockerClient): ProxyProcessOptions {
  if (o.proxyContainer && !docker) throw new ConfigError('--proxy-container needs a Docker connection');
  return {
    ...(o.proxyBinary ? { binary: o.proxyBinary } : {}),
    ...(o.checkCommand ? { checkCommand: o.checkCommand } : {}),
    ...(o.reloadCommand ? { reloadCommand: o.reloadCommand } : {}),
    ...(s.pidFile ? { pidFile: s.pidFile } : {}),
    ...(o.proxyContainer && docker
      ? {
          container: {
            docker,
            name: o.proxyContainer,
            configDir: o.proxyConfigDir ?? DEFAULT_CONTAINER_CONFIG_DIR[s.kind],
          },
        }
      : {}),
    installOnly: !o.reload,
  };
}

export interface DriverDeps {
  logger: Logger;
  metrics?: Metrics;
  docker?: DockerodeDockerClient;
}

/**
 * The HAProxy admin socket this host can reach, or undefined: the template's adminSocket param
 * outside the sidecar layout; in it, only the path given by --haproxy-admin-socket (a volume shared
 * with the proxy container). Either way only when the config declares one — the shipped template,
 * or an operator's template given adminSocket as a param — and only when this host reloads.
 */
export function reachableAdminSocket(o: RenderOptions, s: RenderSettings): string | undefined {
  if (s.kind !== 'haproxy' || !o.reload) return undefined;
  if (o.template && !('adminSocket' in s.params.raw)) return undefined;
  return o.proxyContainer ? o.haproxyAdminSocket : s.params.adminSocket;
}

/** The proxy driver the options describe; `reload: false` installs only (render --once --no-reload). */
export function createDriver(o: RenderOptions, s: RenderSettings, deps: DriverDeps): ProxyDriver {
  const adminSocket = reachableAdminSocket(o, s);
  const options = {
    ...proxyProcess(o, s, deps.docker),
    configPath: s.configPath,
    logger: deps.logger,
    metrics: deps.metrics,
    // A reload is done once a new worker answers on the admin socket.
    ...(adminSocket ? { adminSocket } : {}),
    // Server-only changes through the admin socket, no reload (src/proxy/haproxy-runtime-api.ts).
    ...(adminSocket && o.haproxyRuntimeApi !== false
      ? { runtime: new HaproxyRuntimeApi({ socketPath: adminSocket, logger: deps.logger }) }
      : {}),
  };
  return s.kind === 'haproxy' ? new HaproxyDriver(options) : new NginxDriver(options);
}

export interface RenderRoleParts {
  consul: ConsulClient;
  logger: Logger;
  metrics: Metrics;
  kvPrefix: string;
  docker?: DockerodeDockerClient;
}

/** The render role with its driver, from the render options. */
export function createRenderRole(o: RenderOptions, parts: RenderRoleParts): RenderRole {
  const settings = renderSettings(o);
  const driver = createDriver(o, settings, parts);
  const traffic = trafficSource(o, settings);
  return new RenderRole(o, settings, { ...parts, driver, ...(traffic ? { traffic } : {}) });
}

/**
 * Where this render host reads its proxy's request counters (docs/rollouts.md#metric-gates): the
 * admin socket's `show stat` for HAProxy, where this host can reach it; the template's JSON traffic
 * log for nginx, not in the sidecar layout. Nothing when only installing.
 */
export function trafficSource(o: RenderOptions, s: RenderSettings): TrafficCounterSource | undefined {
  if (!o.reload) return undefined;
  if (s.kind === 'haproxy') {
    const adminSocket = reachableAdminSocket(o, s);
    return adminSocket ? new HaproxyStatsSource(adminSocket) : undefined;
  }
  if (o.proxyContainer) return undefined;
  return s.params.trafficLog !== 'off' ? new NginxTrafficLogSource(s.params.trafficLog) : undefined;
}

/**
 * `switchyard run`: the daemon. Each role adds its options here and its part in buildDaemon();
 * register-role options are documented in docs/registering.md.
 */
export interface RunOptions extends CommonOptions, HttpOptions, RenderOptions {
  register: boolean;
  /** The render role (Consul → proxy config); options in docs/rendering.md. */
  render: boolean;
  nodeId?: string;
  colorLabel: string;
  explicit: boolean;
  allPublished: boolean;
  tags: string[];
  ip?: string;
  internal: boolean;
  network?: string;
  resync: number;
  deregisterOnExit: boolean;
  allowLiveMix: boolean;
  shutdownTimeout: number;
  /** Take part in executing rollouts (docs/rollouts.md). */
  rollouts: boolean;
  rolloutLockDelay: number;
  rolloutSessionTtl: number;
}

export function registrarOptions(o: RunOptions): RegistrarOptions {
  if (o.explicit && o.allPublished)
    throw new ConfigError('--explicit and --all-published contradict each other: choose one (or neither)');
  if (o.network && !o.internal) throw new ConfigError('--network only applies with --internal');
  const selection: Selection = o.explicit ? 'explicit' : o.allPublished ? 'published' : 'labelled';
  return {
    ...(o.nodeId ? { nodeId: o.nodeId } : {}),
    colorLabel: o.colorLabel,
    selection,
    extraTags: o.tags,
    internal: o.internal,
    ...(o.network ? { network: o.network } : {}),
    ...(o.ip ? { advertiseIp: o.ip } : {}),
    resyncMs: o.resync,
    deregisterOnExit: o.deregisterOnExit,
    allowLiveMix: o.allowLiveMix,
    closeTimeoutMs: Math.max(1_000, o.shutdownTimeout - 1_000),
  };
}

export interface BuiltDaemon {
  daemon: Daemon;
  registrar?: Registrar;
  render?: RenderRole;
  rollouts?: RolloutExecutor;
  metrics: Metrics;
}

/** Builds every part `run` starts, in start order; closing happens in reverse. */
export function buildDaemon(o: RunOptions, logger: Logger, metrics = new Metrics()): BuiltDaemon {
  const daemon = new Daemon({ logger, closeTimeoutMs: o.shutdownTimeout });
  const consul = consulClient(o);
  daemon.add(
    'consul-client',
    closeOnly(() => consul.close()),
  );
  const built: BuiltDaemon = { daemon, metrics };
  // Early in the list, so probes get 503 "starting" while the roles start, and last to close.
  if (o.httpListen) {
    // The status page reads Consul as `switchyard status` does, whatever roles this daemon runs.
    const control = new SwitchControl({ consul, kvPrefix: o.kvPrefix, logger, colorTags: o.colors });
    daemon.add(
      'http',
      new StatusServer({
        ...o.httpListen,
        metrics,
        health: daemon,
        logger,
        overview: () => readOverview(control, o.kvPrefix),
      }),
    );
  }

  if (o.register) {
    const regOptions = registrarOptions(o);
    const docker = dockerClient(o, logger);
    daemon.add(
      'docker-client',
      closeOnly(() => docker.close()),
    );
    // The live-color guard reads the live color by the switch's rule, handed in from here.
    const liveColors = new ConsulLiveColors(consul, o.kvPrefix);
    built.registrar = new Registrar({ docker, consul, logger, metrics, liveColors }, regOptions);
    daemon.add('registrar', built.registrar);
  }

  if (o.render) {
    let docker: DockerodeDockerClient | undefined;
    if (o.proxyContainer) {
      const d = dockerClient(o, logger);
      docker = d;
      daemon.add(
        'proxy-docker-client',
        closeOnly(() => d.close()),
      );
    }
    built.render = createRenderRole(o, {
      consul,
      logger,
      metrics,
      kvPrefix: o.kvPrefix,
      ...(docker ? { docker } : {}),
    });
    daemon.add('render', built.render);
  }

  // Every daemon, whatever its roles, is a candidate executor: rollouts go on while any one runs.
  if (o.rollouts) {
    built.rollouts = new RolloutExecutor({
      consul,
      kvPrefix: o.kvPrefix,
      logger,
      node: async () => `${o.nodeId ?? (await consul.agentNodeName())}/${process.pid}`,
      colorTags: o.colors,
      lockDelayMs: o.rolloutLockDelay,
      sessionTtlMs: o.rolloutSessionTtl,
    });
    daemon.add('rollouts', built.rollouts);
  }
  return built;
}
