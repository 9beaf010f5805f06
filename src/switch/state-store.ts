import type { BlockingOptions, ConsulClient } from '../consul/consul-client.js';
import { StateConflictError, errorMessage } from '../errors.js';
import {
  HISTORY_LIMIT,
  historyEntrySchema,
  historyKey,
  parseServiceState,
  rendererReportSchema,
  servicesPrefix,
  stateKey,
  type HistoryEntry,
  type RendererReport,
  type ServiceState,
} from '../domain/service-state.js';

/** A service's state as read, with the ModifyIndex a check-and-set write must quote (0: absent). */
export interface StoredState {
  state: ServiceState | undefined;
  modifyIndex: number;
  /** Set when a value is stored but unreadable; the next write replaces it. */
  invalid?: string;
}

export interface StoredHistory {
  entries: HistoryEntry[];
  modifyIndex: number;
  /** Entries (or the whole value) that could not be read and were left out, with why. */
  problems: string[];
}

export interface CommitResult {
  /**
   * This write's ModifyIndex, for the next check-and-set (canary ramps); OVERTAKEN (0) when another
   * writer changed the key before it could be read back, so that check-and-set fails as it should.
   */
  modifyIndex: number;
  /** Said when the history could not be appended; the state change itself did happen. */
  warnings: string[];
}

/** No write of ours to build on: as a check-and-set index on an existing key, it always fails. */
export const OVERTAKEN = 0;

const HISTORY_CAS_ATTEMPTS = 5;

/**
 * Blue-green state in Consul KV. Every state write is a check-and-set on the ModifyIndex read
 * before deciding, so two operators racing cannot silently overwrite each other: the loser gets a
 * StateConflictError and nothing is written.
 */
export class SwitchStateStore {
  constructor(
    private readonly consul: ConsulClient,
    private readonly prefix: string,
  ) {}

  async readState(service: string): Promise<StoredState> {
    const entry = await this.consul.kvGet(stateKey(this.prefix, service));
    if (!entry) return { state: undefined, modifyIndex: 0 };
    const parsed = parseServiceState(entry.value);
    if (parsed.ok) return { state: parsed.value, modifyIndex: entry.modifyIndex };
    return {
      state: undefined,
      modifyIndex: entry.modifyIndex,
      invalid: `the state stored at ${stateKey(this.prefix, service)} is invalid: ${parsed.error}`,
    };
  }

  async readHistory(service: string): Promise<StoredHistory> {
    const key = historyKey(this.prefix, service);
    const entry = await this.consul.kvGet(key);
    if (!entry) return { entries: [], modifyIndex: 0, problems: [] };
    return { ...parseHistory(key, entry.value), modifyIndex: entry.modifyIndex };
  }

  /** Services that have a state key under the prefix. */
  async servicesWithState(): Promise<string[]> {
    const prefix = servicesPrefix(this.prefix);
    const { value } = await this.consul.kvList(prefix);
    const names = new Set<string>();
    for (const e of value) {
      const rest = e.key.slice(prefix.length);
      const m = /^([^/]+)\/state$/.exec(rest);
      if (m) names.add(m[1]!);
    }
    return [...names].sort();
  }

  /**
   * Writes `state` only if the state key still has `expectedIndex` (0: only if absent), then
   * appends `entry` to the history. A lost race throws StateConflictError naming who won.
   */
  async commit(
    service: string,
    expectedIndex: number,
    state: ServiceState,
    entry: HistoryEntry,
  ): Promise<CommitResult> {
    const key = stateKey(this.prefix, service);
    const body = JSON.stringify(state);
    const ok = await this.consul.kvPut(key, body, { cas: expectedIndex });
    if (!ok) {
      const now = await this.readState(service).catch(() => undefined);
      const who = now?.state
        ? ` (now: live ${now.state.live}${now.state.updatedBy ? `, set by ${now.state.updatedBy}` : ''}${
            now.state.updatedAt ? ` at ${now.state.updatedAt}` : ''
          })`
        : '';
      throw new StateConflictError(
        `the state of ${service} changed while this command ran${who}; nothing was written — check "switchyard status" and run the command again`,
      );
    }
    // A PUT answers only true/false: read our write's index back at once, and only when the key
    // still holds our value. Another writer's index must never pass for ours (a canary ramp checks
    // it to stop when someone else changed the state).
    const after = await this.consul.kvGet(key);
    const modifyIndex = after?.value === body ? after.modifyIndex : OVERTAKEN;
    const warnings: string[] = [];
    try {
      await this.appendHistory(service, entry);
    } catch (err) {
      warnings.push(`the switch happened, but its history entry could not be written: ${errorMessage(err)}`);
    }
    return { modifyIndex, warnings };
  }

  /** Appends with check-and-set, retrying when another writer appended first; keeps the newest HISTORY_LIMIT. */
  async appendHistory(service: string, entry: HistoryEntry): Promise<void> {
    const key = historyKey(this.prefix, service);
    for (let attempt = 0; attempt < HISTORY_CAS_ATTEMPTS; attempt++) {
      const current = await this.consul.kvGet(key);
      const entries = current ? parseHistory(key, current.value).entries : [];
      const next = [...entries, entry].slice(-HISTORY_LIMIT);
      if (await this.consul.kvPut(key, JSON.stringify(next), { cas: current?.modifyIndex ?? 0 })) return;
    }
    throw new StateConflictError(`${key} kept changing; gave up after ${HISTORY_CAS_ATTEMPTS} attempts`);
  }

  /** Every render host's last report; unreadable ones are returned as problems, not thrown. */
  async readReports(
    options: BlockingOptions = {},
  ): Promise<{ index: number; reports: RendererReport[]; problems: string[] }> {
    const prefix = `${this.prefix.replace(/^\/+|\/+$/g, '')}/renderers/`;
    const { index, value } = await this.consul.kvList(prefix, options);
    const reports: RendererReport[] = [];
    const problems: string[] = [];
    for (const e of value) {
      try {
        const r = rendererReportSchema.safeParse(JSON.parse(e.value));
        if (r.success) reports.push(r.data);
        else problems.push(`${e.key} is not a renderer report; ignored`);
      } catch {
        problems.push(`${e.key} is not JSON; ignored`);
      }
    }
    return { index, reports, problems };
  }
}

function parseHistory(key: string, raw: string): { entries: HistoryEntry[]; problems: string[] } {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    return { entries: [], problems: [`${key} is not JSON (${errorMessage(err)}); history starts afresh`] };
  }
  if (!Array.isArray(json)) return { entries: [], problems: [`${key} is not a JSON array; history starts afresh`] };
  const entries: HistoryEntry[] = [];
  const problems: string[] = [];
  json.forEach((item, i) => {
    const r = historyEntrySchema.safeParse(item);
    if (r.success) entries.push(r.data);
    else problems.push(`${key}[${i}] is not a history entry; left out`);
  });
  return { entries, problems };
}
