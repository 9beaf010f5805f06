import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { errorMessage } from '../errors.js';
import { once } from '../lifecycle.js';
import type { Lifecycle } from '../lifecycle.js';
import type { Logger } from '../log/logger.js';
import { templateErrorText } from './template-error.js';

/** What the watcher needs from a renderer (EtaTemplateRenderer has both). */
export interface ReloadableTemplate {
  readonly templatePath: string;
  /** Recompiles; throws TemplateError and keeps the last good template when the file does not compile. */
  reload(): void;
}

/**
 * Watches a template's folder and recompiles the template when it, or any `.eta` file next to it (an
 * include), changes; then calls onChange so the pipeline renders again at once. A template that does
 * not compile is logged with its file and line and the last good one stays in use.
 *
 *   const watcher = new TemplateWatcher({ template: renderer, onChange: () => pipeline.trigger('template edited'), logger });
 *   await watcher.start(); … await watcher.close();
 *
 * chokidar ≥ 4 has no globs, so the folder is watched and events filtered by name. Editors that save
 * by writing a new file and renaming it over the old one produce unlink + add; events are coalesced
 * for `settleMs` so that counts as one edit.
 */
export interface TemplateWatcherOptions {
  template: ReloadableTemplate;
  onChange: (reason: string) => void;
  logger: Logger;
  /** Quiet time before recompiling (default 50 ms). */
  settleMs?: number;
}

export class TemplateWatcher implements Lifecycle {
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;
  private closed = false;
  private readonly logger: Logger;
  private readonly dir: string;
  private readonly file: string;

  constructor(private readonly options: TemplateWatcherOptions) {
    this.logger = options.logger.child({ component: 'template-watch' });
    this.dir = path.dirname(path.resolve(options.template.templatePath));
    this.file = path.basename(options.template.templatePath);
  }

  async start(): Promise<void> {
    if (this.closed || this.watcher) return;
    const watcher = watch(this.dir, { ignoreInitial: true, depth: 0, atomic: true });
    this.watcher = watcher;
    const onEvent = (p: string) => {
      const name = path.basename(p);
      if (name === this.file || name.endsWith('.eta')) this.schedule(name);
    };
    watcher.on('add', onEvent).on('change', onEvent).on('unlink', onEvent);
    watcher.on('error', (err) => this.logger.error(`watching ${this.dir} failed: ${errorMessage(err)}`));
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    this.logger.info(`watching ${path.join(this.dir, this.file)} for edits`);
  }

  readonly close = once(async () => {
    this.closed = true;
    clearTimeout(this.timer);
    await this.watcher?.close();
  });

  private schedule(name: string): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.recompile(name), this.options.settleMs ?? 50);
  }

  private recompile(name: string): void {
    if (this.closed) return;
    const templatePath = this.options.template.templatePath;
    try {
      this.options.template.reload();
    } catch (err) {
      this.logger.error(`${templateErrorText(err)}; still rendering with the last good template`, {
        template: templatePath,
      });
      return;
    }
    this.logger.info(`template ${templatePath} changed (${name} edited); rendering again`, { template: templatePath });
    try {
      this.options.onChange(`template ${name} edited`);
    } catch (err) {
      this.logger.error(`re-rendering after the template edit failed: ${errorMessage(err)}`, {
        template: templatePath,
      });
    }
  }
}
