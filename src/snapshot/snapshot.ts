import type { CheckStatus } from '../domain/check-status.js';
import type { ServiceState } from '../domain/service-state.js';

/**
 * One consistent view of everything the render role serves: services → instances with their health,
 * plus each service's blue-green state. Built by the watcher, read by templates and proxy drivers.
 * Frozen: nothing downstream may change it.
 */
export interface Instance {
  /** Consul service ID (unique per agent; with `node`, unique in the cluster). */
  readonly id: string;
  readonly service: string;
  readonly node: string;
  readonly address: string;
  readonly port: number;
  /** The color tag/meta of the instance; undefined for an uncolored instance. */
  readonly color: string | undefined;
  readonly tags: readonly string[];
  readonly meta: Readonly<Record<string, string>>;
  /** Worst status among the instance's own and its node's checks; 'passing' when it has none. */
  readonly health: CheckStatus;
  /** Consul maintenance mode (node or service): out of rotation whatever the other checks say. */
  readonly maintenance: boolean;
}

export interface ServiceSnapshot {
  readonly name: string;
  /** Sorted by color, then address, then port, then id, so rendering is deterministic. */
  readonly instances: readonly Instance[];
  /** The KV state; undefined when none is stored (the live color is then derived, see live-color.ts). */
  readonly state: ServiceState | undefined;
  /** The color serving the main port: state.live, else the default rule. */
  readonly live: string | undefined;
  /** The color on the preview port: the other color with instances (the previous live one first). */
  readonly idle: string | undefined;
}

export interface Snapshot {
  /** Sorted by name. */
  readonly services: readonly ServiceSnapshot[];
}
