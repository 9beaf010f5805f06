import { readFileSync } from 'node:fs';

/** What Linux's /proc says about one process: resident memory and CPU, its own and its reaped children's. */
export interface ProcSample {
  rssKb: number;
  /** utime + stime, seconds. */
  cpuSelf: number;
  /** cutime + cstime: children it waited for (e.g. `haproxy -c`, a reload script), seconds. */
  cpuChildren: number;
}

// USER_HZ is 100 on every Linux this runs on (sysconf(_SC_CLK_TCK)); Node cannot ask for it.
const TICKS_PER_SECOND = 100;

export function procSample(pid: number): ProcSample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const n = (i: number) => Number(f[i - 3]) / TICKS_PER_SECOND;
    return { rssKb, cpuSelf: n(14) + n(15), cpuChildren: n(16) + n(17) };
  } catch {
    return undefined;
  }
}

/** The pids of a process's living children (/proc/<pid>/task/<tid>/children, Linux ≥ 3.5). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A process and its living children together (an HAProxy master and its workers). */
export function treeSample(pid: number): ProcSample | undefined {
  const own = procSample(pid);
  if (!own) return undefined;
  for (const c of childPids(pid)) {
    const s = procSample(c);
    if (!s) continue;
    own.rssKb += s.rssKb;
    own.cpuSelf += s.cpuSelf;
    own.cpuChildren += s.cpuChildren;
  }
  return own;
}
