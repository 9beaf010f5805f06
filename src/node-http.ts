import { createRequire } from 'node:module';
import type * as Http from 'node:http';

/**
 * node:http, loaded through require(). An ESM import of node:http builds its module namespace, which
 * reads every export, and the lazy ones (WebSocket and friends) load Node's bundled undici, which
 * Switchyard never uses: 14 MB of resident memory in a bare process, 2-3 MB in the daemon
 * (docs/performance.md). Import http from here, never from 'node:http' directly
 * (test/unit/node-http.test.ts checks).
 */
export const http = createRequire(import.meta.url)('node:http') as typeof Http;
export type { Agent, IncomingMessage, Server, ServerResponse } from 'node:http';
