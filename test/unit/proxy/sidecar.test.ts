import { describe, expect, it } from '@jest/globals';
import type {
  ContainerInfo,
  ContainerSummary,
  DockerClient,
  DockerEvent,
  ExecResult,
} from '../../../src/docker/docker-client.js';
import { CheckerError, ReloadError } from '../../../src/errors.js';
import { DockerExecChecker } from '../../../src/proxy/config-checker.js';
import { ContainerSignalReloader } from '../../../src/proxy/reloader.js';

/** The sidecar layout through a fake of our own DockerClient interface. */
class FakeDocker implements DockerClient {
  execs: Array<{ id: string; cmd: string[] }> = [];
  signals: Array<{ id: string; signal: string }> = [];
  execResult: ExecResult = { exitCode: 0, output: '' };
  signalError?: Error;
  async ping(): Promise<void> {}
  // eslint-disable-next-line require-yield
  async *events(): AsyncIterable<DockerEvent> {
    return;
  }
  async listContainers(): Promise<ContainerSummary[]> {
    return [];
  }
  async inspectContainer(): Promise<ContainerInfo | undefined> {
    return undefined;
  }
  async signalContainer(id: string, signal: string): Promise<void> {
    if (this.signalError) throw this.signalError;
    this.signals.push({ id, signal });
  }
  async exec(id: string, cmd: string[]): Promise<ExecResult> {
    this.execs.push({ id, cmd });
    return this.execResult;
  }
  async close(): Promise<void> {}
}

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
