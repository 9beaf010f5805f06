import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * Locates the real components the integration tests drive. scripts/test.sh provisions them; a
 * missing one is an error that names what to run, never a silent skip.
 */
export function requireBinary(name: string, envVar?: string): string {
  const fromEnv = envVar ? process.env[envVar] : undefined;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`${envVar}=${fromEnv} does not exist; run scripts/provision.sh`);
    return fromEnv;
  }
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/local/sbin', '/sbin'])) {
    const p = `${dir}/${name}`;
    if (dir && existsSync(p)) return p;
  }
  throw new Error(`${name} is not installed${envVar ? ` and ${envVar} is not set` : ''}; run scripts/provision.sh`);
}

export const consulBinary = (): string => requireBinary('consul', 'SWITCHYARD_CONSUL_BIN');
export const haproxyBinary = (): string => requireBinary('haproxy', 'SWITCHYARD_HAPROXY_BIN');
export const nginxBinary = (): string => requireBinary('nginx', 'SWITCHYARD_NGINX_BIN');
export const testImage = (): string => process.env.SWITCHYARD_TEST_IMAGE ?? 'switchyard-test-app:latest';

export function requireDocker(): void {
  try {
    execFileSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: 'pipe', timeout: 10_000 });
  } catch (err) {
    throw new Error(`dockerd is not reachable (docker info failed); run scripts/provision.sh`, { cause: err });
  }
}
