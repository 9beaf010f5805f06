import type { ConsulClient } from '../consul/consul-client.js';
import { deepEqual } from '../snapshot/deep-equal.js';
import { rendererReport } from '../snapshot/renderer-report.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import { rendererKey } from '../domain/service-state.js';
import type { RendererReporter } from './render-pipeline.js';

/**
 * Writes `<kv-prefix>/renderers/<node>` after a config went live, so `switch --wait` can see every
 * load balancer serve the new color. Written only when what it says changed.
 */
export class KvRendererReporter implements RendererReporter {
  private node: string | undefined;
  private lastWritten: unknown;

  constructor(
    private readonly consul: ConsulClient,
    private readonly kvPrefix: string,
    node?: string,
  ) {
    this.node = node;
  }

  async write(snapshot: Snapshot): Promise<void> {
    // The node name comes from the agent lazily: the render role must start while Consul is down.
    this.node ??= await this.consul.agentNodeName();
    const report = rendererReport(this.node, snapshot, new Date());
    if (deepEqual(report.services, this.lastWritten)) return;
    await this.consul.kvPut(rendererKey(this.kvPrefix, this.node), JSON.stringify(report));
    this.lastWritten = report.services;
  }
}
