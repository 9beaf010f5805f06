import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chown, open, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * Writes proxy configs the way a crash cannot corrupt them: the content goes to a temp file in the
 * target's own folder (so rename is atomic and a sidecar proxy sees the same path), is fsynced, gets
 * the installed file's mode and owner, and replaces the target with one rename.
 *
 *   const installer = new ConfigInstaller('/etc/haproxy/haproxy.cfg');
 *   const staged = await installer.stage(text);   // checker runs on staged.path
 *   await installer.install(staged);              // or staged.discard()
 *   await installer.saveLastGood(text);           // after the proxy reloaded it
 */
export interface StagedConfig {
  readonly path: string;
  readonly content: string;
  discard(): Promise<void>;
}

export class ConfigInstaller {
  readonly targetPath: string;
  readonly lastGoodPath: string;

  constructor(targetPath: string) {
    this.targetPath = path.resolve(targetPath);
    this.lastGoodPath = `${this.targetPath}.last-good`;
  }

  /** The installed content, or undefined when there is no file yet. */
  async current(): Promise<string | undefined> {
    try {
      return await readFile(this.targetPath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /**
   * Writes `content` to a temp file next to the target. Its name keeps the target's extension
   * (`.haproxy.cfg.<random>.tmp` would confuse editors and some checkers less than a bare suffix).
   */
  async stage(content: string): Promise<StagedConfig> {
    const dir = path.dirname(this.targetPath);
    const base = path.basename(this.targetPath);
    const tmp = path.join(dir, `.${base}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    const existing = await stat(this.targetPath).catch(() => undefined);
    await writeDurably(tmp, content, existing?.mode !== undefined ? existing.mode & 0o7777 : 0o644);
    if (existing && process.getuid?.() === 0) {
      await chown(tmp, existing.uid, existing.gid).catch(() => undefined);
    }
    return {
      path: tmp,
      content,
      discard: () => rm(tmp, { force: true }),
    };
  }

  /** Replaces the target with the staged file in one rename, then syncs the folder. */
  async install(staged: StagedConfig): Promise<void> {
    await rename(staged.path, this.targetPath);
    await syncDir(path.dirname(this.targetPath));
  }

  /** Keeps a copy of a config the proxy accepted and serves, at `<target>.last-good`. */
  async saveLastGood(content: string): Promise<void> {
    const tmp = `${this.lastGoodPath}.${process.pid}.tmp`;
    const existing = await stat(this.targetPath).catch(() => undefined);
    await writeDurably(tmp, content, existing ? existing.mode & 0o7777 : 0o644);
    await rename(tmp, this.lastGoodPath);
  }
}

async function writeDurably(file: string, content: string, mode: number): Promise<void> {
  const fh = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    await fh.writeFile(content, 'utf8');
    // open()'s mode is filtered by the umask; the installed file's mode must survive exactly.
    await fh.chmod(mode);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await rm(file, { force: true });
    throw err;
  }
  await fh.close();
}

async function syncDir(dir: string): Promise<void> {
  // A directory fsync makes the rename itself durable; some filesystems refuse it, which is harmless.
  const fh = await open(dir, constants.O_RDONLY).catch(() => undefined);
  if (!fh) return;
  await fh.sync().catch(() => undefined);
  await fh.close();
}
