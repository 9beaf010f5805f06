/* global fetch, AbortSignal */
// The image's HEALTHCHECK: GET /healthz where `run` serves it, read from SWITCHYARD_HTTP_LISTEN
// (host:port, port, or off; default 0.0.0.0:9720). Node is the only tool in the image.
const listen = process.env.SWITCHYARD_HTTP_LISTEN || '0.0.0.0:9720';
if (listen === 'off') {
  console.error('SWITCHYARD_HTTP_LISTEN=off: no /healthz to check (run with --no-healthcheck)');
  process.exit(1);
}
const sep = listen.lastIndexOf(':');
const port = sep < 0 ? listen : listen.slice(sep + 1);
let host = sep < 0 ? '' : listen.slice(0, sep).replace(/^\[|\]$/g, '');
if (host === '' || host === '0.0.0.0' || host === '*') host = '127.0.0.1';
if (host === '::') host = '::1';
const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/healthz`;
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(2500) });
  const body = (await res.text()).slice(0, 500);
  if (!res.ok) console.error(`${url}: HTTP ${res.status} ${body}`);
  process.exit(res.ok ? 0 : 1);
} catch (err) {
  console.error(`${url}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
