/**
 * How long-lived parts tell /healthz whether they are doing their job. A part implements
 * HealthReporter when "started" is not enough to know: the render role is unhealthy until its
 * first config is live, the registrar while the Docker event stream is down. Parts without it count
 * as healthy once started.
 */
export type HealthStatus = 'ok' | 'starting' | 'unhealthy';

export interface PartHealth {
  status: HealthStatus;
  /** One plain sentence: what is wrong, or what the part is doing. */
  message?: string;
  /** Since when the part has been in this status (ISO time), when it knows. */
  since?: string;
}

export interface HealthReporter {
  health(): PartHealth;
}

export function reportsHealth(part: unknown): part is HealthReporter {
  return typeof part === 'object' && part !== null && typeof (part as { health?: unknown }).health === 'function';
}

/** Where a daemon part is in its life. */
export type PartPhase = 'pending' | 'starting' | 'running' | 'closing';

export interface PartState {
  name: string;
  part: unknown;
  phase: PartPhase;
}

/** The daemon, as /healthz sees it. */
export interface HealthSource {
  partStates(): readonly PartState[];
}

export interface HealthReport {
  status: HealthStatus;
  parts: Record<string, PartHealth & { phase: PartPhase }>;
}

/**
 * Everything ok → ok; any part unhealthy → unhealthy; otherwise (still starting, or closing) →
 * starting. Pure: the server turns it into 200 or 503.
 */
export function healthReport(parts: readonly PartState[]): HealthReport {
  const out: HealthReport['parts'] = {};
  let worst: HealthStatus = 'ok';
  for (const p of parts) {
    let h: PartHealth;
    if (p.phase === 'pending' || p.phase === 'starting') h = { status: 'starting', message: `${p.name} is starting` };
    else if (p.phase === 'closing') h = { status: 'unhealthy', message: `${p.name} is shutting down` };
    else if (reportsHealth(p.part)) {
      try {
        h = p.part.health();
      } catch (err) {
        h = {
          status: 'unhealthy',
          message: `health check failed: ${err instanceof Error ? err.message : String(err)}`,
        };
      }
    } else h = { status: 'ok' };
    out[p.name] = { ...h, phase: p.phase };
    if (h.status === 'unhealthy') worst = 'unhealthy';
    else if (h.status === 'starting' && worst === 'ok') worst = 'starting';
  }
  return { status: worst, parts: out };
}
