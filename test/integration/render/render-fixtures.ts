import { appendFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { Command } from 'commander';
import { ConsulHttpClient } from '../../../src/consul/consul-http-client.js';
import { Metrics } from '../../../src/http/metrics.js';
import { createLogger, type Logger } from '../../../src/log/logger.js';
import { addRenderOptions } from '../../../src/cli/render-flags.js';
import type { RenderOptions } from '../../../src/render/render-options.js';
import type { RenderRole } from '../../../src/render/render-role.js';
import { createRenderRole } from '../../../src/cli/compose.js';
import type { TestConsulAgent } from '../../helpers/consul-agent.js';

export interface InstanceSpec {
  id: string;
  name?: string;
  port: number;
  color?: string;
  tags?: string[];
  meta?: Record<string, string>;
  address?: string;
}

/** Registers straight through Consul's HTTP API, as another host's registrar would. */
export async function register(agent: TestConsulAgent, spec: InstanceSpec): Promise<void> {
  await agent.put('/v1/agent/service/register', {
    ID: spec.id,
    Name: spec.name ?? 'web',
    Address: spec.address ?? '127.0.0.1',
    Port: spec.port,
    Tags: spec.tags ?? (spec.color ? [spec.color] : []),
    Meta: { ...(spec.color ? { color: spec.color } : {}), ...spec.meta },
  });
}

export async function deregister(agent: TestConsulAgent, id: string): Promise<void> {
  await agent.put(`/v1/agent/service/deregister/${encodeURIComponent(id)}`);
}

/** Log lines kept in memory, so a test can assert what an operator would read. */
export class LogCapture {
  readonly lines: { level: string; message: string }[] = [];
  readonly logger: Logger;

  constructor() {
    const stream = new PassThrough();
    stream.on('data', (b: Buffer) => {
      for (const l of b.toString().split('\n')) if (l.trim()) this.lines.push(JSON.parse(l) as never);
      // SY_TEST_LOG=<file> keeps the daemon's lines for a failing run.
      if (process.env.SY_TEST_LOG) appendFileSync(process.env.SY_TEST_LOG, b);
    });
    this.logger = createLogger({ stream, json: true, level: 'debug' });
  }

  has(level: string, fragment: string): boolean {
    return this.lines.some((l) => l.level === level && l.message.includes(fragment));
  }
}

/** The render options as `switchyard run` would parse them from these flags. */
export function renderOptions(args: string[]): RenderOptions {
  const cmd = addRenderOptions(new Command('test').exitOverride());
  cmd.parse(args, { from: 'user' });
  return cmd.opts<RenderOptions>();
}

export function startRole(
  agent: TestConsulAgent,
  args: string[],
  logs = new LogCapture(),
): { role: RenderRole; consul: ConsulHttpClient; metrics: Metrics; logs: LogCapture } {
  const consul = new ConsulHttpClient({ address: agent.address });
  const metrics = new Metrics({ defaultMetrics: false });
  const role = createRenderRole(renderOptions(args), { consul, logger: logs.logger, metrics, kvPrefix: 'switchyard' });
  return { role, consul, metrics, logs };
}

export async function counterValue(
  metric: Metrics['reloads'] | Metrics['renders'] | Metrics['runtimeUpdates'],
  labels: Record<string, string>,
): Promise<number> {
  const values = (await metric.get()).values;
  return values
    .filter((v) =>
      Object.entries(labels).every(
        ([k, want]) => (v.labels as Record<string, string | number | undefined>)[k] === want,
      ),
    )
    .reduce((n, v) => n + v.value, 0);
}
