/**
 * The read-only status page served at `GET /` (docs/rollouts.md#the-status-page). One static HTML
 * document with its CSS and script inline — no CDN, no build step, nothing fetched but
 * `/api/overview` (same origin), polled every second. Every value from Consul is put into the page
 * with textContent or as an SVG attribute number, never as HTML.
 */
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Switchyard</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
  h1 { font-size: 1.3em; margin: 0 0 .2em; }
  h2 { font-size: 1.15em; margin: 0 0 .5em; }
  h3 { font-size: 1em; margin: 1em 0 .3em; }
  .service { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 1em; margin: 1em 0; }
  .meta { color: #666; font-size: .9em; }
  table { border-collapse: collapse; }
  td, th { padding: .15em .8em .15em 0; text-align: left; vertical-align: top; }
  .passing { color: #1a7f37; } .critical, .warning, .maintenance { color: #b3261e; }
  .bar { display: flex; height: 1.4em; border-radius: 4px; overflow: hidden; width: 24em; border: 1px solid #ccc; }
  .bar span { display: block; color: #fff; font-size: .8em; text-align: center; line-height: 1.75em; white-space: nowrap; overflow: hidden; }
  .phase-running { color: #0b57d0; } .phase-paused { color: #9a6700; } .phase-aborted { color: #b3261e; } .phase-completed, .phase-promoted { color: #1a7f37; }
  .steps span { display: inline-block; padding: 0 .5em; margin-right: .3em; border: 1px solid #ccc; border-radius: 3px; }
  .steps .done { background: #d7f0dd; } .steps .current { background: #0b57d0; color: #fff; }
  .fail { color: #b3261e; } .pass { color: #1a7f37; } .wait { color: #9a6700; }
  svg text { font-size: 10px; fill: #666; }
</style>
</head>
<body>
<h1>Switchyard</h1>
<div class="meta" id="updated">loading…</div>
<div id="services"></div>
<script>
"use strict";
const COLORS = ['#0b57d0', '#1a7f37', '#b3261e', '#9a6700', '#6f42c1', '#0a7c86'];
const colorOf = (name) => ({ blue: '#0b57d0', green: '#1a7f37', red: '#b3261e' })[name] || COLORS[[...name].reduce((a, c) => a + c.charCodeAt(0), 0) % COLORS.length];
function el(tag, attrs, ...children) {
  const e = tag.startsWith('svg:') ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined) e.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== undefined && c !== null) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}
const ago = (iso) => { const s = Math.round((Date.now() - Date.parse(iso)) / 1000); return s < 90 ? s + 's ago' : Math.round(s / 60) + 'm ago'; };
function weightsBar(weights) {
  const entries = Object.entries(weights).filter(([, w]) => w > 0);
  return el('div', { class: 'bar', 'data-testid': 'weights' }, entries.map(([c, w]) => el('span', { style: 'width:' + w + '%;background:' + colorOf(c), title: c + ' ' + w + '%' }, c + ' ' + w + '%')));
}
function chart(checks) {
  const W = 480, H = 140, L = 34, R = 40, T = 8, B = 20;
  const svg = el('svg:svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, 'data-testid': 'chart', role: 'img' });
  svg.append(el('svg:title', {}, 'success rate (%) and latency (ms) at each gate check'));
  const n = Math.max(checks.length, 2);
  const x = (i) => L + (i * (W - L - R)) / (n - 1);
  const maxMs = Math.max(100, ...checks.flatMap((c) => [c.canary.latencyMs || 0, c.stable.latencyMs || 0]));
  const ySucc = (v) => T + (Math.min(25, 100 - v) / 25) * (H - T - B);
  const yMs = (v) => H - B - (v / maxMs) * (H - T - B);
  svg.append(el('svg:line', { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: '#ccc' }));
  svg.append(el('svg:text', { x: 2, y: T + 8 }, '100%'), el('svg:text', { x: 2, y: H - B }, '75%'), el('svg:text', { x: W - R + 4, y: T + 8 }, Math.round(maxMs) + 'ms'));
  const line = (pts, color, dash) => pts.length > 1 && svg.append(el('svg:polyline', { points: pts.map(([a, b]) => a.toFixed(1) + ',' + b.toFixed(1)).join(' '), fill: 'none', stroke: color, 'stroke-width': 2, 'stroke-dasharray': dash }));
  const pts = (pick, y) => checks.map((c, i) => [i, pick(c)]).filter(([, v]) => typeof v === 'number').map(([i, v]) => [x(i), y(v)]);
  line(pts((c) => c.canary.successRate, ySucc), '#1a7f37');
  line(pts((c) => c.stable.successRate, ySucc), '#0b57d0');
  line(pts((c) => c.canary.latencyMs, yMs), '#1a7f37', '4 3');
  line(pts((c) => c.stable.latencyMs, yMs), '#0b57d0', '4 3');
  for (const [pick, y, color] of [[(c) => c.canary.successRate, ySucc, '#1a7f37'], [(c) => c.stable.successRate, ySucc, '#0b57d0']])
    for (const [px, py] of pts(pick, y)) svg.append(el('svg:circle', { cx: px, cy: py, r: 2.5, fill: color }));
  checks.forEach((c, i) => svg.append(el('svg:circle', { cx: x(i), cy: H - B + 8, r: 3, fill: c.verdict === 'pass' ? '#1a7f37' : c.verdict === 'fail' ? '#b3261e' : '#9a6700' }, el('svg:title', {}, c.at + ' ' + c.percent + '%: ' + c.verdict + ' — ' + c.why))));
  return svg;
}
function rolloutView(r) {
  const box = el('div', { 'data-testid': 'rollout' });
  box.append(el('h3', {}, 'Rollout of ', r.color, ' (stable ', r.stable, '): ', el('span', { class: 'phase-' + r.phase, 'data-testid': 'rollout-phase' }, r.phase)));
  box.append(el('div', { class: 'steps', 'data-testid': 'steps' }, r.steps.map((p, i) => el('span', { class: i < r.applied || (i === r.applied && r.phase === 'completed') ? 'done' : i === r.step ? 'current' : '' }, p + '%'))));
  const active = r.phase === 'running' || r.phase === 'paused';
  if (active) box.append(el('div', { 'data-testid': 'rollout-step' }, 'step ' + (r.step + 1) + ' of ' + r.steps.length + ' (' + r.steps[r.step] + '% to ' + r.color + ')' + (r.failures ? ' · ' + r.failures + ' failing check(s) in a row of ' + r.gate.maxFailures : '')));
  if (r.outcome) box.append(el('div', {}, r.outcome));
  box.append(el('div', { class: 'meta' }, 'gate: success ≥ ' + r.gate.minSuccessRate + '%, latency ≤ ' + r.gate.maxLatencyMs + ' ms, ' + r.gate.maxFailures + ' failures allowed, ≥ ' + r.gate.minRequests + ' requests per check, every ' + r.intervalMs / 1000 + 's · started by ' + r.createdBy + (r.executor ? ' · executed by ' + r.executor : '')));
  if (r.checks.length) {
    box.append(chart(r.checks));
    box.append(el('div', { class: 'meta' }, 'solid: success rate (75–100 %), dashed: latency; green line: ', r.color, ', blue line: ', r.stable));
    const last = r.checks[r.checks.length - 1];
    box.append(el('div', { class: last.verdict }, 'last check: ' + last.verdict + ' — ' + last.why));
  }
  return box;
}
function serviceView(s) {
  const box = el('div', { class: 'service', 'data-testid': 'service', 'data-service': s.service });
  box.append(el('h2', {}, s.service));
  box.append(el('div', {}, 'live: ', el('b', { 'data-testid': 'live' }, s.live || '(none)'), ' · idle: ', el('b', {}, s.idle || '(none)')));
  box.append(el('h3', {}, 'Traffic on the main port'), weightsBar(s.weights || (s.live ? { [s.live]: 100 } : {})));
  const rows = [];
  for (const c of s.colors) for (const i of c.instances) rows.push(el('tr', {}, el('td', {}, c.color), el('td', {}, i.id), el('td', {}, i.address + ':' + i.port), el('td', { class: i.maintenance ? 'maintenance' : i.health }, i.maintenance ? 'maintenance' : i.health), el('td', { class: 'meta' }, i.why || '')));
  box.append(el('h3', {}, 'Instances'), rows.length ? el('table', { 'data-testid': 'instances' }, rows) : el('div', { class: 'meta' }, 'none'));
  if (s.rollout) box.append(rolloutView(s.rollout));
  box.append(el('h3', {}, 'Render hosts'), s.renderers.length ? el('table', {}, s.renderers.map((h) => el('tr', {}, el('td', {}, h.node), el('td', {}, 'serves ' + (h.live || '?') + (h.weights ? ' ' + Object.entries(h.weights).map(([c, w]) => c + '=' + w + '%').join(' ') : '')), el('td', { class: h.inSync ? 'passing' : 'critical' }, h.inSync ? 'in sync' : 'behind'), el('td', { class: 'meta' }, ago(h.at))))) : el('div', { class: 'meta' }, 'no render host reports yet'));
  box.append(el('h3', {}, 'Recent history'), el('table', { 'data-testid': 'history' }, s.history.map((e) => el('tr', {}, el('td', { class: 'meta' }, ago(e.at)), el('td', {}, e.action), el('td', {}, (e.from ? e.from + ' → ' : '') + e.to), el('td', { class: 'meta' }, e.by), el('td', {}, e.reason || '')))));
  for (const p of s.problems) box.append(el('div', { class: 'critical' }, p));
  return box;
}
async function refresh() {
  try {
    const r = await fetch('api/overview', { cache: 'no-store' });
    const o = await r.json();
    document.getElementById('services').replaceChildren(...o.services.map(serviceView));
    document.getElementById('updated').textContent = 'updated ' + new Date(o.at).toLocaleTimeString() + (o.services.length ? '' : ' · no service yet');
  } catch (e) {
    document.getElementById('updated').textContent = 'cannot reach the daemon: ' + e;
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
`;
