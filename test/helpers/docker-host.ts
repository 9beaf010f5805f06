import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { requireBinary, testImage } from './components.js';
import { TEST_LABEL } from './docker.js';
import { waitFor } from './ports.js';

const run = promisify(execFile);

export interface DockerHostOptions {
  /** Short name for logs, container names and the host's cgroup (letters, digits, '-'). */
  name: string;
  /** Images copied from the shared dockerd into this one (`docker save | docker -H … load`). Default: the test image. */
  images?: string[];
  /** `--live-restore`: containers keep running while the daemon is down or killed. Default false. */
  liveRestore?: boolean;
  /** The bridge's subnet as `10.X.Y.0/24`; by default a free one in 10.200-249.*.0/24 is picked. */
  subnet?: string;
  /** Storage driver; default vfs (works everywhere, copies every layer). overlay2 suits big images. */
  storageDriver?: 'vfs' | 'overlay2';
  /** Extra dockerd arguments. */
  extraArgs?: string[];
}

/**
 * A simulated Docker host: an extra dockerd on this machine with its own socket, data-root,
 * exec-root, pid file, cgroup parent and its OWN bridge (never `--bridge none`: that deletes the
 * shared docker0, field notes §3). Its containers get addresses on that bridge, reachable from this
 * machine only. close() ends what this host started — its dockerd by PID, the containers in its own
 * cgroup — unmounts its network namespace and removes its folders and bridge.
 */
export class DockerHost {
  private child?: ChildProcess;
  private output = '';
  private closed = false;

  private constructor(
    readonly name: string,
    /** The folder holding the socket, data-root and exec-root. */
    readonly dir: string,
    /** The bridge interface (≤ 15 characters). */
    readonly bridge: string,
    /** The bridge's subnet, e.g. 10.213.7.0/24. */
    readonly subnet: string,
    private readonly options: DockerHostOptions,
  ) {}

  /** Creates the bridge, starts the dockerd and loads the images into it. */
  static async start(options: DockerHostOptions): Promise<DockerHost> {
    if (!/^[a-z0-9-]{1,20}$/.test(options.name)) throw new Error(`bad docker host name "${options.name}"`);
    requireBinary('dockerd');
    requireBinary('ip');
    // Short path: containerd's sockets live under the exec-root and unix socket paths are ≤ 107 bytes.
    const dir = mkdtempSync(path.join(tmpdir(), 'sy-dh-'));
    const suffix = path
      .basename(dir)
      .slice(-6)
      .toLowerCase()
      .replace(/[^a-z0-9]/g, 'x');
    const bridge = `sydh${suffix}`;
    const subnet = options.subnet ?? (await freeSubnet());
    const host = new DockerHost(options.name, dir, bridge, subnet, options);
    try {
      await host.createBridge();
      writeFileSync(path.join(dir, 'daemon.json'), '{}\n');
      await host.startDaemon();
      for (const image of options.images ?? [testImage()]) await host.loadImage(image);
    } catch (err) {
      await host.close();
      throw err;
    }
    return host;
  }

  get socket(): string {
    return path.join(this.dir, 'docker.sock');
  }

  /** The DOCKER_HOST value for this host (`unix://…`). */
  get dockerHost(): string {
    return `unix://${this.socket}`;
  }

  /** The bridge's own address (the gateway containers use), e.g. 10.213.7.1. */
  get gateway(): string {
    return this.subnet.replace(/\.0\/24$/, '.1');
  }

  /** A container's address on this host's bridge (the default network), e.g. 10.213.7.2. */
  async containerIp(id: string): Promise<string> {
    const ip = await this.docker('inspect', '--format', '{{.NetworkSettings.IPAddress}}', id);
    if (!ip) throw new Error(`container ${id} has no address on docker host ${this.name}`);
    return ip;
  }

  get dataRoot(): string {
    return path.join(this.dir, 'data');
  }

  get execRoot(): string {
    return path.join(this.dir, 'x');
  }

  get pidFile(): string {
    return path.join(this.dir, 'docker.pid');
  }

  /** Our own cgroup parent: every container of this host sits under it, so close() can find them. */
  get cgroupParent(): string {
    return `sy-dh-${path.basename(this.dir).slice(-6)}`;
  }

  /** The dockerd's PID while it runs. */
  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The daemon's recent output, for error messages. */
  get logs(): string {
    return this.output;
  }

  /** `docker -H <this host> <args>`; returns stdout trimmed. */
  async docker(...args: string[]): Promise<string> {
    const { stdout } = await run('docker', ['-H', this.dockerHost, ...args], { timeout: 120_000 });
    return stdout.trim();
  }

  /** `docker run -d` on this host with the test label; returns the container id. */
  async run(args: string[], options: { image?: string; cmd?: string[] } = {}): Promise<string> {
    return this.docker(
      'run',
      '-d',
      '--label',
      `${TEST_LABEL}=${process.pid}`,
      ...args,
      options.image ?? testImage(),
      ...(options.cmd ?? []),
    );
  }

  /** Ids of the running containers on this host (`docker ps -q`, full ids). */
  async runningContainers(): Promise<string[]> {
    const out = await this.docker('ps', '-q', '--no-trunc');
    return out ? out.split('\n') : [];
  }

  /** Stops the daemon (SIGTERM, SIGKILL after 15 s) and starts it again on the same folders and bridge. */
  async restart(): Promise<void> {
    await this.stopDaemon();
    await this.startDaemon();
  }

  /**
   * SIGKILLs the dockerd (its containerd dies with it). With `containers: 'die'` the containers'
   * processes are SIGKILLed too, as on a lost machine; with 'keep' (default) they keep running
   * (their shims outlive the daemon). start it again with restart() or startDaemon().
   */
  async kill(options: { containers?: 'keep' | 'die' } = {}): Promise<void> {
    const child = this.child;
    if (child && this.running) {
      const containerd = this.containerdPid();
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGKILL');
      await exited;
      // containerd dies with its daemon (parent-death signal), a moment later; a daemon started
      // before it is gone adopts the dying one and times out.
      if (containerd !== undefined)
        await waitFor(`containerd of docker host ${this.name} to exit`, () => !isAlive(containerd), 10_000, 50);
    }
    if (options.containers === 'die') this.killContainerProcesses();
  }

  /** Starts the daemon when it is not running (after kill()). */
  async startDaemon(): Promise<void> {
    if (this.closed) throw new Error(`docker host ${this.name} is closed`);
    if (this.running) return;
    const args = [
      '-H',
      this.dockerHost,
      '--data-root',
      this.dataRoot,
      '--exec-root',
      this.execRoot,
      '--pidfile',
      this.pidFile,
      '--config-file',
      path.join(this.dir, 'daemon.json'),
      '--bridge',
      this.bridge,
      '--iptables=false',
      '--ip6tables=false',
      '--ip-masq=false',
      '--storage-driver',
      this.options.storageDriver ?? 'vfs',
      '--cgroup-parent',
      this.cgroupParent,
      '--log-level',
      'warn',
      ...(this.options.liveRestore ? ['--live-restore'] : []),
      ...(this.options.extraArgs ?? []),
    ];
    const child = spawn(requireBinary('dockerd'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.on('error', () => undefined);
    this.child = child;
    const collect = (b: Buffer) => {
      this.output = (this.output + b.toString()).slice(-20_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    // A daemon that exited is not waited for: the caller may start it again at once.
    let exited = false;
    await waitFor(
      `dockerd of docker host ${this.name} on ${this.socket}`,
      async () => {
        if (!this.running) return (exited = true);
        await run('docker', ['-H', this.dockerHost, 'version', '--format', '{{.Server.Version}}'], {
          timeout: 10_000,
        });
        return true;
      },
      60_000,
      200,
    );
    if (exited)
      throw new Error(`dockerd of docker host ${this.name} exited while starting: ${this.output.slice(-2000)}`);
  }

  /**
   * Ends everything this host started, each step even when another fails: its containers (in its
   * own cgroup), its dockerd (by PID), the netns mount under its exec-root, its folders and bridge.
   * Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const errors: unknown[] = [];
    const step = async (f: () => unknown): Promise<void> => {
      try {
        await f();
      } catch (err) {
        errors.push(err);
      }
    };
    if (this.running) {
      await step(async () => {
        const ids = await this.docker('ps', '-aq');
        if (ids) await this.docker('rm', '-f', '-v', ...ids.split('\n'));
      });
    }
    await step(() => this.stopDaemon());
    await step(() => this.killContainerProcesses());
    await step(() => this.killShims());
    await step(() => this.removeCgroups());
    await step(() => this.unmountUnder(this.dir));
    await step(() => rmSync(this.dir, { recursive: true, force: true }));
    await step(() => run('ip', ['link', 'delete', this.bridge, 'type', 'bridge']).catch(() => undefined));
    if (errors.length > 0)
      throw new AggregateError(errors, `closing docker host ${this.name}: ${errors.length} step(s) failed`);
  }

  private async stopDaemon(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const containerd = this.containerdPid();
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
    // As in kill(): a daemon started again before its old containerd is gone adopts the dying one
    // and never answers (seen in CI: the soak's dockerd restart timed out after 60 s).
    if (containerd !== undefined && isAlive(containerd))
      await waitFor(`containerd of docker host ${this.name} to exit`, () => !isAlive(containerd), 10_000, 50).catch(
        () => {
          if (isAlive(containerd)) process.kill(containerd, 'SIGKILL');
        },
      );
  }

  private async createBridge(): Promise<void> {
    await run('ip', ['link', 'add', 'name', this.bridge, 'type', 'bridge']);
    await run('ip', ['addr', 'add', this.subnet.replace(/\.0\/24$/, '.1/24'), 'dev', this.bridge]);
    await run('ip', ['link', 'set', this.bridge, 'up']);
  }

  private async loadImage(image: string): Promise<void> {
    // docker save | docker -H … load, without a shell.
    await new Promise<void>((resolve, reject) => {
      const save = spawn('docker', ['save', image], { stdio: ['ignore', 'pipe', 'pipe'] });
      const load = spawn('docker', ['-H', this.dockerHost, 'load', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let err = '';
      save.stderr.on('data', (b: Buffer) => (err += b.toString()));
      load.stderr.on('data', (b: Buffer) => (err += b.toString()));
      save.stdout.pipe(load.stdin);
      let pending = 2;
      const done = (what: string) => (code: number | null) => {
        if (code !== 0)
          reject(new Error(`loading ${image} into docker host ${this.name}: ${what} exited ${code}: ${err}`));
        else if (--pending === 0) resolve();
      };
      save.once('exit', done('docker save'));
      load.once('exit', done('docker load'));
      save.once('error', reject);
      load.once('error', reject);
    });
  }

  /** PIDs in this host's own cgroup (pids hierarchy, cgroup v1, or the unified one on v2). */
  private containerPids(): number[] {
    const pids: number[] = [];
    for (const root of ['/sys/fs/cgroup/pids', '/sys/fs/cgroup']) {
      const base = path.join(root, this.cgroupParent);
      if (!existsSync(base)) continue;
      const walk = (dir: string): void => {
        const procs = path.join(dir, 'cgroup.procs');
        if (existsSync(procs))
          for (const l of readFileSync(procs, 'utf8').split('\n')) if (l.trim()) pids.push(Number(l));
        for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(dir, e.name));
      };
      walk(base);
      break;
    }
    return pids;
  }

  private killContainerProcesses(): void {
    for (const pid of this.containerPids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  private containerdPid(): number | undefined {
    try {
      const pid = Number(readFileSync(path.join(this.execRoot, 'containerd', 'containerd.pid'), 'utf8').trim());
      return pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Container shims outlive a killed daemon. Ours are the processes whose command line names our
   * own exec-root (a unique temp path), so this never touches another dockerd's shims.
   */
  private killShims(): void {
    const marker = `${this.execRoot}/`;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let cmdline: string;
      try {
        cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      if (!cmdline.includes(marker)) continue;
      try {
        process.kill(Number(entry), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  /** Removes this host's (empty) cgroup folders in every hierarchy. */
  private async removeCgroups(): Promise<void> {
    if (!existsSync('/sys/fs/cgroup')) return;
    await waitFor(
      `container processes of docker host ${this.name} to exit`,
      () => this.containerPids().length === 0,
      10_000,
      100,
    );
    for (const h of readdirSync('/sys/fs/cgroup')) {
      const base = path.join('/sys/fs/cgroup', h, this.cgroupParent);
      if (!existsSync(base)) continue;
      // Children first: rmdir only works on empty cgroups.
      const dirs: string[] = [];
      const walk = (dir: string): void => {
        for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(dir, e.name));
        dirs.push(dir);
      };
      walk(base);
      for (const d of dirs) await run('rmdir', [d]).catch(() => undefined);
    }
  }

  /** Unmounts every mount under `dir` (the netns/default bind mount, vfs layers, shm), deepest first. */
  private async unmountUnder(dir: string): Promise<void> {
    const mounts = readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1]?.replace(/\\040/g, ' '))
      .filter((m): m is string => !!m && (m === dir || m.startsWith(`${dir}/`)))
      .sort((a, b) => b.length - a.length);
    for (const m of mounts) await run('umount', ['-l', m]).catch(() => undefined);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A /24 in 10.200-249.*.0 that no interface or route on this machine uses. */
async function freeSubnet(): Promise<string> {
  const { stdout } = await run('ip', ['-4', 'route', 'show', 'table', 'all']);
  const { stdout: addrs } = await run('ip', ['-4', '-o', 'addr', 'show']);
  const used = stdout + addrs;
  for (let attempt = 0; attempt < 200; attempt++) {
    const b = 200 + Math.floor(Math.random() * 50);
    const c = Math.floor(Math.random() * 256);
    if (!used.includes(`10.${b}.${c}.`)) return `10.${b}.${c}.0/24`;
  }
  throw new Error('no free 10.200-249.*.0/24 subnet for a docker host bridge');
}
