import { createRequire, Module } from 'node:module';
import path from 'node:path';
import type DockerodeClass from 'dockerode';

/**
 * dockerode, loaded without the parts Switchyard never calls. At require time dockerode loads its
 * BuildKit session (@grpc/grpc-js, protobufjs: only `buildImage` with BuildKit uses it) and
 * docker-modem loads ssh2 (only `ssh://` Docker hosts, which dockerConnection() does not accept), and
 * ssh2 compiles WebAssembly as it loads. Together they are about 30 MB of the daemon's resident
 * memory and a few hundred ms of every start (docs/performance.md). Each is replaced in the CommonJS
 * cache, before dockerode loads, by a function that loads the real module on its first call, so
 * nothing dockerode can do is lost.
 */
const require = createRequire(import.meta.url);
const dockerodeMain = require.resolve('dockerode');
const fromDockerode = createRequire(dockerodeMain);
const modemMain = fromDockerode.resolve('docker-modem');

function deferCall(file: string): void {
  if (require.cache[file]) return;
  let real: ((...args: unknown[]) => unknown) | undefined;
  const stub = new Module(file);
  stub.filename = file;
  stub.loaded = true;
  stub.exports = function deferred(this: unknown, ...args: unknown[]): unknown {
    if (!real) {
      // Out of the cache so require() loads the real module (which then stays cached).
      if (require.cache[file] === stub) delete require.cache[file];
      real = require(file) as (...args: unknown[]) => unknown;
    }
    return real.apply(this, args);
  };
  require.cache[file] = stub;
}

deferCall(path.join(path.dirname(dockerodeMain), 'session.js'));
deferCall(path.join(path.dirname(modemMain), 'ssh.js'));

export const Dockerode = require('dockerode') as typeof DockerodeClass;
