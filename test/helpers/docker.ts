import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { testImage } from './components.js';

const run = promisify(execFile);

/** Label on every container a test makes, so a crashed run's leftovers can be found by hand. */
export const TEST_LABEL = 'switchyard.test';

/**
 * Starts and tracks containers for one test file; removeAll() removes exactly the ones it made,
 * by id, even after a failure.
 */
export class TestContainers {
  private readonly ids = new Set<string>();

  /** `docker run -d` with the given args before the image; returns the container id. */
  async run(args: string[], options: { image?: string; cmd?: string[] } = {}): Promise<string> {
    const { stdout } = await run(
      'docker',
      [
        'run',
        '-d',
        '--label',
        `${TEST_LABEL}=${process.pid}`,
        ...args,
        options.image ?? testImage(),
        ...(options.cmd ?? []),
      ],
      // A burst of starts on a loaded machine (bench/switch-under-load.ts) can take a while.
      { timeout: 120_000 },
    );
    const id = stdout.trim();
    this.ids.add(id);
    return id;
  }

  /**
   * Runs the test app as a well-behaved server: on SIGTERM it keeps serving for `graceSeconds`
   * (its in-flight requests), then exits 0. `args` go before the image, as for run().
   */
  async runGraceful(args: string[], graceSeconds: number): Promise<string> {
    const script = `mkdir -p /www; echo blue > /www/index.html; trap "sleep ${graceSeconds}; exit 0" TERM; httpd -f -p 8080 -h /www & wait $!`;
    return this.run([...args, '--entrypoint', '/bin/sh'], { cmd: ['-c', script] });
  }

  /** Creates without starting (for tests of the create→start sequence). */
  async create(args: string[], options: { image?: string } = {}): Promise<string> {
    const { stdout } = await run(
      'docker',
      ['create', '--label', `${TEST_LABEL}=${process.pid}`, ...args, options.image ?? testImage()],
      { timeout: 60_000 },
    );
    const id = stdout.trim();
    this.ids.add(id);
    return id;
  }

  async docker(...args: string[]): Promise<string> {
    const { stdout } = await run('docker', args, { timeout: 60_000 });
    return stdout.trim();
  }

  async remove(id: string): Promise<void> {
    await run('docker', ['rm', '-f', id], { timeout: 60_000 }).catch(() => undefined);
    this.ids.delete(id);
  }

  /** Removes every container this made, 50 to a `docker rm` (a benchmark makes more). */
  async removeAll(): Promise<void> {
    const ids = [...this.ids];
    this.ids.clear();
    for (let i = 0; i < ids.length; i += 50)
      await run('docker', ['rm', '-f', '-v', ...ids.slice(i, i + 50)], { timeout: 180_000 }).catch(() => undefined);
  }
}

/**
 * The labels and environment of one test-app instance of `color`: its color label, its service
 * (Registrator's SERVICE_NAME, or SERVICE_<port>_NAME when it listens on `port`) and the 1 s HTTP
 * check on /health the tests wait on. Without `service` the name comes from the image.
 */
export function appArgs(o: { color: string; colorLabel?: string; service?: string; port?: number }): string[] {
  const args = ['-e', `COLOR=${o.color}`, '-l', `${o.colorLabel ?? 'color'}=${o.color}`];
  if (o.service !== undefined && o.port === undefined) args.push('-l', `SERVICE_NAME=${o.service}`);
  if (o.service !== undefined && o.port !== undefined) {
    args.push('-l', `SERVICE_${o.port}_NAME=${o.service}`);
    // The image exposes 8080: an app on another port (host network) is not registered there too.
    if (o.port !== 8080) args.push('-l', 'SERVICE_8080_IGNORE=true');
  }
  args.push('-l', 'SERVICE_CHECK_HTTP=/health', '-l', 'SERVICE_CHECK_INTERVAL=1s');
  return args;
}

async function danglingImages(): Promise<string[]> {
  const { stdout } = await run('docker', ['images', '-q', '--no-trunc', '--filter', 'dangling=true'], {
    timeout: 60_000,
  });
  return stdout.split('\n').filter(Boolean);
}

/**
 * The images a test's builds leave dangling: the classic builder's unnamed stages, the image a
 * rebuild untags, a rebuilt stand-in (about 760 MB of image per build otherwise piles up on a
 * developer's dockerd). Take a snapshot before building; removeNew() removes the dangling images that
 * appeared since, one at a time, so one another run still uses is refused and stays.
 */
export class BuildLeftovers {
  private constructor(private readonly before: ReadonlySet<string>) {}

  static async snapshot(): Promise<BuildLeftovers> {
    return new BuildLeftovers(new Set(await danglingImages()));
  }

  /** Never throws; returns a line for the test's log. */
  async removeNew(): Promise<string> {
    const made = (await danglingImages().catch(() => [])).filter((id) => !this.before.has(id));
    let removed = 0;
    for (const id of made)
      removed += await run('docker', ['rmi', id], { timeout: 60_000 }).then(
        () => 1,
        () => 0,
      );
    return `removed ${removed} of ${made.length} dangling image(s) this run's builds left`;
  }
}
