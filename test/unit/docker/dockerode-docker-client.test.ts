import { describe, expect, it } from '@jest/globals';
import { dockerConnection, toContainerInfo } from '../../../src/docker/dockerode-docker-client.js';
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
