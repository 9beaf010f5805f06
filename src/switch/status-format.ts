import type { HistoryEntry } from '../domain/service-state.js';
import type { ServiceStatus } from './switch-control.js';
import { weightsText } from '../domain/weights.js';

/** `switchyard status` as a person reads it on a terminal. Pure, so its layout is unit-tested. */
export function formatStatus(statuses: readonly ServiceStatus[], now: Date): string {
  if (statuses.length === 0) return 'No service has blue-green state or colored instances in Consul yet.\n';
  return statuses.map((s) => formatService(s, now)).join('\n');
}

function formatService(s: ServiceStatus, now: Date): string {
  const lines: string[] = [];
  const live = s.live ? `${s.live}${s.liveStored ? '' : ' (default: first color with a passing instance)'}` : 'none';
  lines.push(`${s.service}`);
  lines.push(`  live:     ${live}`);
  lines.push(`  idle:     ${s.idle ?? 'none'}`);
  lines.push(`  weights:  ${s.weights ? weightsText(s.weights) : `all traffic to ${s.live ?? 'nothing'}`}`);
  lines.push(`  last:     ${s.lastChange ? describeEntry(s.lastChange, now) : 'never switched'}`);
  if (s.renderers.length > 0)
    lines.push(
      `  proxies:  ${s.renderers
        .map(
          (r) =>
            `${r.node} ${r.inSync ? 'serves' : 'still serves'} ${r.live ?? 'nothing'}${r.weights ? ` (${weightsText(r.weights)})` : ''}`,
        )
        .join(', ')}`,
    );
  const rows: string[][] = [['COLOR', 'ROLE', 'INSTANCE', 'NODE', 'ADDRESS', 'HEALTH']];
  for (const c of s.colors) {
    const role = c.color === s.live ? 'live' : c.color === s.idle ? 'idle' : '';
    if (c.instances.length === 0) rows.push([c.color, role, '-', '-', '-', 'no instances']);
    for (const i of c.instances)
      rows.push([
        c.color,
        role,
        i.id,
        i.node,
        `${i.address}:${i.port}`,
        i.passing
          ? 'passing'
          : i.maintenance
            ? // The reason says why it is out (a drain, the live-color guard, an operator's note).
              `maintenance${i.why?.startsWith('maintenance: ') ? ` (${i.why.slice('maintenance: '.length)})` : ''}`
            : `${i.health}${i.why ? ` (${i.why})` : ''}`,
      ]);
  }
  if (rows.length > 1) {
    lines.push(`  instances: ${s.colors.map((c) => `${c.color} ${c.passing}/${c.total} passing`).join(', ')}`);
    lines.push(...table(rows).map((l) => `    ${l}`));
  } else lines.push('  instances: none with a color');
  if (s.uncolored > 0) lines.push(`  (${s.uncolored} instance(s) without a color are not part of blue-green)`);
  for (const p of s.problems) lines.push(`  problem: ${p}`);
  return `${lines.join('\n')}\n`;
}

export function describeEntry(e: HistoryEntry, now: Date): string {
  const what =
    e.action === 'canary' && e.weights && Object.keys(e.weights).length > 1
      ? `canary ${weightsText(e.weights)}`
      : `${e.action} ${e.from ? `${e.from} → ` : ''}${e.to}`;
  return `${what}, ${ago(e.at, now)} by ${e.by}${e.reason ? ` (${e.reason})` : ''}`;
}

function ago(at: string, now: Date): string {
  const t = Date.parse(at);
  if (Number.isNaN(t)) return `at ${at}`;
  const s = Math.max(0, Math.round((now.getTime() - t) / 1000));
  const rel =
    s < 60
      ? `${s}s`
      : s < 3600
        ? `${Math.floor(s / 60)}m`
        : s < 86400
          ? `${Math.floor(s / 3600)}h`
          : `${Math.floor(s / 86400)}d`;
  return `${rel} ago (${new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z')})`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) =>
    r
      .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}
