import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Eta, type TemplateFunction } from 'eta';
import { TemplateError, errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Snapshot } from '../snapshot/snapshot.js';
import { buildTemplateContext } from './template-context.js';
import { describeEtaError, TemplateSourceError } from './template-error.js';
import { parseTemplateParams, type TemplateParams } from './template-params.js';
import type { TemplateRenderer } from './template-renderer.js';

/**
 * Renders a proxy config from an Eta template file (templates/haproxy.cfg.eta, templates/nginx.conf.eta
 * or your own; the context is documented in docs/templates.md).
 *
 *   const renderer = new EtaTemplateRenderer({ templatePath, params: parseTemplateParams(raw), logger });
 *   const config = renderer.render(snapshot);      // throws TemplateError
 *   renderer.reload();                              // after an edit; throws TemplateError, keeps the last good
 *
 * The constructor compiles the template and throws TemplateError when it does not compile, so a
 * daemon never starts on a broken template. Later reload() failures keep the last good template.
 * HTML escaping is off (`<%= %>` prints as is): values are safe because the context holds only
 * validated values and escaping helpers, not because of eta.
 */
export interface EtaTemplateRendererOptions {
  templatePath: string;
  params?: TemplateParams;
  /** The configured colors (`--colors`): see ContextOptions. Default none. */
  colors?: readonly string[];
  logger: Logger;
}

export class EtaTemplateRenderer implements TemplateRenderer {
  readonly templatePath: string;
  private readonly params: TemplateParams;
  private readonly colors: readonly string[];
  private readonly logger: Logger;
  private readonly eta: Eta;
  private template: TemplateFunction;
  private lastWarnings = new Set<string>();

  constructor(options: EtaTemplateRendererOptions) {
    this.templatePath = path.resolve(options.templatePath);
    this.params = options.params ?? parseTemplateParams();
    this.colors = options.colors ?? [];
    this.logger = options.logger.child({ component: 'render' });
    this.eta = new Eta({
      autoEscape: false,
      // No automatic trimming: a newline after an interpolation is part of the config. Control lines
      // end in `-%>` to drop their own newline.
      autoTrim: false,
      // Includes (`<%~ include('./part.eta') %>`) resolve next to the template.
      views: path.dirname(this.templatePath),
      cache: false,
      // Line tracking, so compile and render errors name the template line (a small cost per render).
      debug: true,
    });
    this.template = this.compile();
  }

  /** Compiles the file again. On failure throws TemplateError and keeps rendering with the last good template. */
  reload(): void {
    this.eta.templatesSync.reset();
    this.eta.filepathCache = {};
    this.template = this.compile();
  }

  render(snapshot: Snapshot): string {
    const { context, warnings } = buildTemplateContext(snapshot, this.params, { colors: this.colors });
    this.logWarnings(warnings);
    try {
      return this.eta.render(this.template, context as unknown as object, { filepath: this.templatePath });
    } catch (err) {
      const { line, reason } = describeEtaError(err);
      throw new TemplateSourceError(this.templatePath, line, `failed to render: ${reason}`, { cause: err });
    }
  }

  private compile(): TemplateFunction {
    let source: string;
    try {
      source = readFileSync(this.templatePath, 'utf8');
    } catch (err) {
      throw new TemplateError(`template ${this.templatePath} cannot be read: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    try {
      return this.eta.compile(source, { filepath: this.templatePath });
    } catch (err) {
      const { line, reason } = describeEtaError(err, () =>
        this.eta.compileToString(source, { filepath: this.templatePath }),
      );
      throw new TemplateSourceError(this.templatePath, line, `does not compile: ${reason}`, { cause: err });
    }
  }

  /** Logs each warning once while it persists, so a bad registration is reported but does not flood the log. */
  private logWarnings(warnings: string[]): void {
    const now = new Set(warnings);
    for (const w of now) if (!this.lastWarnings.has(w)) this.logger.warn(w, { template: this.templatePath });
    this.lastWarnings = now;
  }
}
