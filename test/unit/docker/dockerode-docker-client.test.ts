import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import net from 'node:net';
import {
  DockerodeDockerClient,
  dockerConnection,
  toContainerInfo,
} from '../../../src/docker/dockerode-docker-client.js';
import { DockerError } from '../../../src/errors.js';

describe('dockerConnection (DOCKER_HOST forms)', () => {
  it('accepts unix and tcp addresses', () => {
    expect(dockerConnection(undefined)).toEqual({ socketPath: '/var/run/docker.sock' });
    expect(dockerConnection('unix:///run/user/1000/docker.sock')).toEqual({ socketPath: '/run/user/1000/docker.sock' });
    expect(dockerConnection('tcp://127.0.0.1:2375')).toEqual({ host: '127.0.0.1', port: 2375, protocol: 'http' });
    expect(dockerConnection('tcp://docker.internal')).toEqual({
      host: 'docker.internal',
      port: 2375,
      protocol: 'http',
    });
  });

  it('refuses anything else with a message naming the value', () => {
    expect(() => dockerConnection('ssh://me@host')).toThrow(DockerError);
    expect(() => dockerConnection('not a url')).toThrow(/invalid Docker host "not a url"/);
  });
});

describe('toContainerInfo', () => {
  it('maps docker inspect output: env, labels, one port entry per binding, networks, health', () => {
    const info = toContainerInfo({
      Id: 'f'.repeat(64),
      Name: '/web-blue-1',
      Config: {
        Image: 'registry.example:5000/shop/web:1.2',
        Hostname: 'f'.repeat(12),
        Env: ['SERVICE_NAME=web', 'EMPTY=', 'WITH_EQ=a=b', 'BROKEN'],
        Labels: { color: 'blue' },
        ExposedPorts: { '8080/tcp': {}, '9090/tcp': {}, '53/udp': {}, '7/sctp': {} },
      },
      State: { Running: true, Paused: false, Restarting: false, Health: { Status: 'starting' } },
      HostConfig: { NetworkMode: 'bridge' },
      NetworkSettings: {
        Ports: {
          '8080/tcp': [
            { HostIp: '0.0.0.0', HostPort: '32768' },
            { HostIp: '::', HostPort: '32768' },
          ],
          '9090/tcp': null,
        },
        Networks: { bridge: { IPAddress: '172.17.0.2', GlobalIPv6Address: '' } },
      },
    });
    expect(info).toEqual({
      id: 'f'.repeat(64),
      name: 'web-blue-1',
      image: 'registry.example:5000/shop/web:1.2',
      hostname: 'f'.repeat(12),
      labels: { color: 'blue' },
      env: { SERVICE_NAME: 'web', EMPTY: '', WITH_EQ: 'a=b' },
      running: true,
      health: 'starting',
      ports: [
        { containerPort: 8080, protocol: 'tcp', hostPort: 32768, hostIp: '0.0.0.0' },
        { containerPort: 8080, protocol: 'tcp', hostPort: 32768, hostIp: '::' },
        { containerPort: 9090, protocol: 'tcp' },
        { containerPort: 53, protocol: 'udp' },
      ],
      networks: [{ name: 'bridge', ipAddress: '172.17.0.2', ipv6Address: '' }],
      networkMode: 'bridge',
    });
  });

  it('treats a paused or restarting container as not running', () => {
    expect(toContainerInfo({ State: { Running: true, Paused: true } }).running).toBe(false);
    expect(toContainerInfo({ State: { Running: true, Restarting: true } }).running).toBe(false);
    expect(toContainerInfo({}).health).toBeUndefined();
  });

  it('keeps StartedAt (the drain read back after a restart compares with it), but not the zero time of a never-started container', () => {
    const started = '2026-12-01T14:00:00.123456789Z';
    expect(toContainerInfo({ State: { Running: true, StartedAt: started } }).startedAt).toBe(started);
    expect(toContainerInfo({ State: { StartedAt: '0001-01-01T00:00:00Z' } }).startedAt).toBeUndefined();
  });
});

describe('DockerodeDockerClient calls against a Docker that never answers', () => {
  let server: net.Server;
  let host: string;
  const sockets = new Set<net.Socket>();
  beforeAll(async () => {
    server = net.createServer((s) => sockets.add(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    host = `tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });

  it('fails a call after its timeout, naming what timed out', async () => {
    const docker = new DockerodeDockerClient({ host, timeoutMs: 200 });
    const t0 = Date.now();
    await expect(docker.inspectContainer('abc123')).rejects.toThrow(
      /inspect container abc123 .*failed: The operation was aborted/,
    );
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('ends a call in flight when the client closes', async () => {
    const docker = new DockerodeDockerClient({ host, timeoutMs: 60_000 });
    const call = docker.listContainers();
    await new Promise((r) => setTimeout(r, 100));
    await docker.close();
    await expect(call).rejects.toThrow(/list containers .*failed/);
  });
});
