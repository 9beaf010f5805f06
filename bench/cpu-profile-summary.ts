/**
 * Where a process's CPU went, from a V8 .cpuprofile (`node --cpu-prof --cpu-prof-dir=DIR …`; for the
 * daemon: `node dist/bench/daemon-cost.js --variant "label=<main.js> --cpu-prof --cpu-prof-dir=DIR"`,
 * which prints the phase marks this reads). Per phase, busy time (samples that are not `(idle)`):
 *   - by where the code lives: our src/ file, an npm package, Node's own modules, GC, `(program)`;
 *   - the functions with the most self time;
 *   - our functions by inclusive time (a function counted once per sample, whatever its recursion);
 *   - each sample given to the innermost frame of ours on its stack ("ours + what it called").
 *
 *   node dist/bench/cpu-profile-summary.js FILE.cpuprofile [--mark name=<µs>]… [--top 25]
 *   # A mark starts a phase at a CLOCK_MONOTONIC time in µs (what V8's profile timestamps and
 *   # process.hrtime() both count); the first phase, "start", runs from the profile's start.
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const argv = process.argv.slice(2);
const file = argv.find((a, i) => !a.startsWith('--') && !argv[i - 1]?.startsWith('--'));
if (!file) {
  console.error('usage: cpu-profile-summary FILE.cpuprofile [--mark name=<µs>]… [--top N]');
  process.exit(2);
}
const marks: Array<{ name: string; at: number }> = [];
let top = 25;
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--mark') {
    const [name, at] = argv[++i]!.split('=');
    marks.push({ name: name!, at: Number(at) });
  } else if (argv[i] === '--top') top = Number(argv[++i]);
}

const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const OURS = /\/dist\/(src\/.*)\.js$/;
function where(f: CallFrame): string {
  if (!f.url) return f.functionName.startsWith('(') ? f.functionName : '(native)';
  if (f.url.startsWith('node:')) return f.url.startsWith('node:internal/modules') ? 'node: module loading' : f.url;
  const ours = OURS.exec(f.url);
  if (ours) return ours[1]!;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(f.url);
  return pkg ? `npm ${pkg[1]}` : f.url;
}
const fnName = (f: CallFrame) => `${f.functionName || '(anonymous)'} ${where(f)}:${f.lineNumber + 1}`;

/** The stack of a node, leaf first. */
const stacks = new Map<number, ProfileNode[]>();
function stackOf(id: number): ProfileNode[] {
  let s = stacks.get(id);
  if (!s) {
    s = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) s.push(byId.get(cur)!);
    stacks.set(id, s);
  }
  return s;
}

interface Phase {
  name: string;
  from: number;
  to: number;
  busyUs: number;
  samples: number;
  where: Map<string, number>;
  self: Map<string, number>;
  inclusive: Map<string, number>;
  responsible: Map<string, number>;
}
const sorted = [...marks].sort((a, b) => a.at - b.at);
const phases: Phase[] = [{ name: 'start', at: profile.startTime }, ...sorted].map((m, i, all) => ({
  name: m.name,
  from: m.at,
  to: all[i + 1]?.at ?? profile.endTime,
  busyUs: 0,
  samples: 0,
  where: new Map(),
  self: new Map(),
  inclusive: new Map(),
  responsible: new Map(),
}));
const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);

let t = profile.startTime;
for (let i = 0; i < profile.samples.length; i++) {
  t += profile.timeDeltas[i]!;
  // A sample stands for the time until the next one.
  const dt = profile.timeDeltas[i + 1] ?? 0;
  const leaf = byId.get(profile.samples[i]!)!;
  if (leaf.callFrame.functionName === '(idle)') continue;
  const phase = phases.findLast((p) => p.from <= t) ?? phases[0]!;
  phase.busyUs += dt;
  phase.samples += 1;
  add(phase.where, where(leaf.callFrame), dt);
  add(phase.self, fnName(leaf.callFrame), dt);
  const stack = stackOf(leaf.id);
  const seen = new Set<string>();
  let responsible: string | undefined;
  for (const n of stack) {
    if (!OURS.test(n.callFrame.url)) continue;
    const name = fnName(n.callFrame);
    responsible ??= name;
    if (!seen.has(name)) add(phase.inclusive, name, dt);
    seen.add(name);
  }
  add(phase.responsible, responsible ?? `(no frame of ours) ${where(leaf.callFrame)}`, dt);
}

const ms = (us: number) => `${(us / 1000).toFixed(0).padStart(7)} ms`;
function table(title: string, m: Map<string, number>, total: number): void {
  console.log(`  ${title}`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`    ${ms(v)} ${((100 * v) / Math.max(1, total)).toFixed(1).padStart(5)} %  ${k}`);
}
for (const p of phases) {
  console.log(
    `\n== phase ${p.name}: ${((p.to - p.from) / 1e6).toFixed(1)} s wall, busy ${ms(p.busyUs).trim()} (${p.samples} samples)`,
  );
  if (p.samples === 0) continue;
  table('by where the code lives (self)', p.where, p.busyUs);
  table('functions by self time', p.self, p.busyUs);
  table('our functions by inclusive time', p.inclusive, p.busyUs);
  table('innermost frame of ours (ours + the library/Node code it called)', p.responsible, p.busyUs);
}
