import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProxyKind } from '../proxy/proxy-driver.js';
import type { WaitRange } from '../watch/quiescence.js';

/**
 * The render role's options, shared by `switchyard run` and `switchyard render`. Documented, with
 * defaults and environment variables, in docs/rendering.md.
 */
export interface RenderOptions {
  proxy: ProxyKind;
  /** Unset: the template shipped for the proxy (templates/<proxy>.<ext>.eta in the package). */
  template?: string;
  /** Unset: /etc/haproxy/haproxy.cfg or /etc/nginx/nginx.conf. */
  config?: string;
  templateParam: Record<string, string>;
  wait: WaitRange;
  /** The longer wait for growth during a burst (render/growth-wait.ts); `0` turns it off. */
  growthWait: WaitRange;
  consulWait: number;
  restartGrace: number;
  retryDelay: number;
  /** How often this render host publishes its proxy's request counters for rollout gates. */
  trafficInterval: number;
  checkCommand?: string;
  reloadCommand?: string;
  /** false: install the config but never reload (someone else does). */
  reload: boolean;
  proxyPidFile?: string;
  proxyBinary?: string;
  proxyContainer?: string;
  proxyConfigDir?: string;
  /** Sidecar layout: HAProxy's admin socket as this host sees it, in a volume shared with the proxy. */
  haproxyAdminSocket?: string;
  services?: string[];
  colors: string[];
  /** HAProxy: change servers through the admin socket instead of reloading (default true). */
  haproxyRuntimeApi?: boolean;
}

/**
 * 250ms:1s. Each Consul watch queries at most every 100 ms, so a burst (a deploy registering many
 * instances, checks flipping) reaches the pipeline as updates ~100 ms apart: a quiet period shorter
 * than that would render after every one of them. 250 ms lets a burst coalesce, and 1 s bounds
 * the delay while changes keep coming.
 */
export const DEFAULT_WAIT_TEXT = '250ms:1s';

const CONFIG_EXT: Record<ProxyKind, string> = { haproxy: 'cfg', nginx: 'conf' };
export const DEFAULT_CONFIG_PATH: Record<ProxyKind, string> = {
  haproxy: '/etc/haproxy/haproxy.cfg',
  nginx: '/etc/nginx/nginx.conf',
};
/** Where the official images keep their config, for the sidecar layout's in-container checker. */
export const DEFAULT_CONTAINER_CONFIG_DIR: Record<ProxyKind, string> = {
  haproxy: '/usr/local/etc/haproxy',
  nginx: '/etc/nginx',
};

/** The folder holding Switchyard's package.json: templates ship there, wherever the process was started. */
export function packageRoot(from: string = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (let i = 0; i < 8; i++) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'templates'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new Error(`cannot find Switchyard's package folder (with templates/) above ${from}`);
}

export function defaultTemplatePath(kind: ProxyKind): string {
  return path.join(packageRoot(), 'templates', `${kind}.${CONFIG_EXT[kind]}.eta`);
}
