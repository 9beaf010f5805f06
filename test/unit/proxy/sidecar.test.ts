import { describe, expect, it } from '@jest/globals';
import { CheckerError, ReloadError } from '../../../src/errors.js';
import { DockerExecChecker } from '../../../src/proxy/config-checker.js';
import { ContainerSignalReloader } from '../../../src/proxy/reloader.js';
import { FakeDocker } from '../../helpers/fake-docker.js';

describe('DockerExecChecker', () => {
  it('runs the checker inside the proxy container on the candidate as the container sees it', async () => {
    const docker = new FakeDocker();
    const checker = new DockerExecChecker('haproxy', docker, 'lb', '/usr/local/etc/haproxy');
    await checker.check('/srv/lb-config/.haproxy.cfg.12.ab.tmp');
    expect(docker.execs).toEqual([
      { id: 'lb', cmd: ['haproxy', '-c', '-f', '/usr/local/etc/haproxy/.haproxy.cfg.12.ab.tmp'] },
    ]);
    const nginx = new DockerExecChecker('nginx', docker, 'web-lb', '/etc/nginx');
    await nginx.check('/x/.nginx.conf.1.tmp');
    expect(docker.execs[1]!.cmd).toEqual(['nginx', '-t', '-c', '/etc/nginx/.nginx.conf.1.tmp']);
  });

  it('a non-zero exit is a CheckerError carrying the output', async () => {
    const docker = new FakeDocker();
    docker.execResult = { exitCode: 1, output: '[ALERT] unknown keyword\n' };
    const err = await new DockerExecChecker('haproxy', docker, 'lb', '/cfg').check('/h/c.tmp').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckerError);
    expect((err as CheckerError).message).toBe('haproxy in container lb rejected the candidate config (exit 1)');
    expect((err as CheckerError).output).toBe('[ALERT] unknown keyword');
  });
});

describe('ContainerSignalReloader', () => {
  it('signals the proxy container, and turns a Docker failure into a ReloadError', async () => {
    const docker = new FakeDocker();
    await new ContainerSignalReloader(docker, 'lb', 'SIGUSR2').reload();
    expect(docker.signals).toEqual([{ id: 'lb', signal: 'SIGUSR2' }]);
    docker.signalError = new Error('No such container: lb');
    const err = await new ContainerSignalReloader(docker, 'lb', 'SIGHUP').reload().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReloadError);
    expect((err as ReloadError).message).toBe('could not send SIGHUP to container lb: No such container: lb');
  });
});
