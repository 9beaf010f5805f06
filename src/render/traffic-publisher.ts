import type { ConsulClient } from '../consul/consul-client.js';
import { errorMessage } from '../errors.js';
import { once, type Lifecycle } from '../lifecycle.js';
import { sleep } from '../time/sleep.js';
import type { Logger } from '../log/logger.js';
import type { ServerCounters, TrafficCounterSource } from '../proxy/traffic-counters.js';
import { trafficKey, type ColorCounters, type TrafficReport } from '../domain/traffic.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import { safeName } from './safe-name.js';

/**
 * Each render host publishes its proxy's request counters per service and color at
 * `<kv-prefix>/traffic/<node>` every interval, for the rollout gate; the executor adds up every
 * host's. Servers map to colors through the last snapshot: HAProxy by the slot names of the shipped
 * template (`<service>_live/<color>_<n>`, and `<service>_c_<color>/…` for previews), nginx by the
 * instance's `address:port`.
 */
export interface TrafficPublisherOptions {
  consul: ConsulClient;
  kvPrefix: string;
  proxy: 'haproxy' | 'nginx';
  source: TrafficCounterSource;
  intervalMs: number;
  logger: Logger;
  node?: string;
}

/** Pure: server counters and the snapshot → service → color → counters. */
export function countersByColor(
  proxy: 'haproxy' | 'nginx',
  servers: ReadonlyMap<string, ServerCounters>,
  snapshot: Snapshot,
): TrafficReport['services'] {
  const out: TrafficReport['services'] = {};
  const add = (service: string, color: string, c: ServerCounters) => {
    const s = (out[service] ??= {});
    const t: ColorCounters = (s[color] ??= { requests: 0, errors: 0 });
    const before = t.requests;
    t.requests += c.requests;
    t.errors += c.errors;
    if (c.histogram) t.histogram = c.histogram.map((n, i) => n + (t.histogram?.[i] ?? 0));
    if (c.avgMs !== undefined && c.requests > 0)
      t.avgMs = Math.round(((t.avgMs ?? 0) * before + c.avgMs * c.requests) / t.requests);
  };
  for (const s of snapshot.services) {
    const colors = new Set<string>();
    for (const i of s.instances) if (i.color) colors.add(i.color);
    for (const c of Object.keys(s.state?.weights ?? {})) colors.add(c);
    if (s.live) colors.add(s.live);
    if (proxy === 'nginx') {
      for (const i of s.instances) {
        const addr = i.address.includes(':') ? `[${i.address}]:${i.port}` : `${i.address}:${i.port}`;
        const c = servers.get(addr);
        if (c && i.color) add(s.name, i.color, c);
      }
      continue;
    }
    const id = safeName(s.name);
    for (const color of colors) {
      const cid = safeName(color);
      for (const [key, c] of servers) {
        const [backend, server] = key.split('/') as [string, string];
        if ((backend === `${id}_live` || backend === `${id}_c_${cid}`) && server.replace(/_\d+$/, '') === cid)
          add(s.name, color, c);
      }
    }
  }
  return out;
}

export class TrafficPublisher implements Lifecycle {
  private snapshot: Snapshot | undefined;
  private readonly stop = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly log: Logger;
  private warned = false;

  constructor(private readonly o: TrafficPublisherOptions) {
    this.log = o.logger.child({ component: 'traffic' });
  }

  update(snapshot: Snapshot): void {
    this.snapshot = snapshot;
  }

  start(): Promise<void> {
    this.loop ??= this.run();
    return Promise.resolve();
  }

  readonly close = once(async (): Promise<void> => {
    this.stop.abort();
    await this.loop;
  });

  private async run(): Promise<void> {
    let node = this.o.node;
    let last = '';
    while (await sleep(this.o.intervalMs, this.stop.signal)) {
      if (!this.snapshot) continue;
      try {
        node ??= await this.o.consul.agentNodeName();
        const services = countersByColor(this.o.proxy, await this.o.source.read(), this.snapshot);
        const text = JSON.stringify(services);
        if (text === last) continue;
        const report: TrafficReport = { node, at: new Date().toISOString(), proxy: this.o.proxy, services };
        await this.o.consul.kvPut(trafficKey(this.o.kvPrefix, node), JSON.stringify(report));
        last = text;
        this.warned = false;
      } catch (err) {
        // Once per outage: the gate says "no traffic" meanwhile, and a rollout waits.
        if (!this.warned) this.log.warn(`cannot publish traffic counters for rollouts: ${errorMessage(err)}`);
        this.warned = true;
      }
    }
  }
}
