import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import type { ConsulHttpClient } from '../../consul/consul-http-client.js';
import type { DockerodeDockerClient } from '../../docker/dockerode-docker-client.js';
import { CheckerError, ConfigError, ConsulError, TemplateError, errorMessage } from '../../errors.js';
import { createLogger, type Logger } from '../../log/logger.js';
import { proxyChecker } from '../../proxy/proxy-process.js';
import { EtaTemplateRenderer } from '../../render/eta-template-renderer.js';
import type { RenderOptions } from '../../render/render-options.js';
import { addRenderOptions } from '../render-flags.js';
import { renderSettings, type RenderSettings } from '../../render/render-role.js';
import { KvRendererReporter } from '../../render/renderer-report-writer.js';
import { templateErrorText } from '../../render/template-error.js';
import { fetchSnapshot } from '../../watch/fetch-snapshot.js';
import { addCommonOptions, jsonLogs, type CommonOptions } from '../common-options.js';
import { consulClient, createDriver, dockerClient, proxyProcess } from '../compose.js';

/**
 * `switchyard render --once [--dry]`: one render from the current catalog, checked by the proxy's
 * own checker, then printed (--dry) or installed and reloaded. Any failure exits 1 with one line
 * saying what failed — made for CI checks of templates and for cron-style setups.
 */
export interface RenderCommandOptions extends CommonOptions, RenderOptions {
  once: boolean;
  dry: boolean;
}

export function renderCommand(): Command {
  const cmd = new Command('render').description(
    'Render the proxy config from the current Consul catalog once (--once): check it, then print it (--dry) or install and reload',
  );
  addCommonOptions(cmd);
  addRenderOptions(cmd);
  cmd
    .option('--once', 'render once and exit (required; the continuous render role is `switchyard run --no-register`)')
    .option('--dry', 'print the checked config to stdout instead of installing it')
    .action(async (o: RenderCommandOptions) => {
      if (!o.once)
        throw new ConfigError('render needs --once; for the continuous render role run `switchyard run --no-register`');
      // stdout carries the config with --dry: logs go to stderr.
      const logger = createLogger({
        level: o.logLevel,
        stream: process.stderr,
        json: jsonLogs(o.logFormat) ?? !process.stderr.isTTY,
      });
      await renderOnce(o, logger);
    });
  return cmd;
}

export async function renderOnce(o: RenderCommandOptions, logger: Logger): Promise<void> {
  const log = logger.child({ component: 'render' });
  const settings = renderSettings(o);
  // A template that does not compile fails here, before Consul is asked anything.
  const renderer = oneLineTemplateErrors(
    () =>
      new EtaTemplateRenderer({
        templatePath: settings.templatePath,
        params: settings.params,
        colors: settings.rules.colors,
        logger,
      }),
  );
  const consul: ConsulHttpClient = consulClient(o);
  let docker: DockerodeDockerClient | undefined;
  try {
    if (o.proxyContainer) docker = dockerClient(o, logger);
    const fetched = await fetchSnapshot(consul, o.kvPrefix, settings.rules).catch((err: unknown) => {
      throw new ConsulError(`cannot read the catalog from Consul: ${errorMessage(err)}`, undefined, { cause: err });
    });
    for (const p of fetched.problems)
      log.warn(`service ${p.service}, instance ${p.instanceId}: ${p.message}`, { service: p.service });
    for (const p of fetched.stateProblems)
      log.warn(`ignoring the blue-green state at ${p.key}: ${p.error}`, { service: p.service, key: p.key });
    const snapshot = fetched.snapshot;
    const config = oneLineTemplateErrors(() => renderer.render(snapshot));
    const instances = snapshot.services.reduce((n, s) => n + s.instances.length, 0);
    const summary = `${snapshot.services.length} services, ${instances} instances`;

    if (o.dry) {
      await checkCandidate(config, settings, o, docker);
      process.stdout.write(config.endsWith('\n') ? config : `${config}\n`);
      log.info(`rendered and checked ${settings.kind} config (${summary}); printed, not installed`);
      return;
    }
    const driver = createDriver(o, settings, { logger, ...(docker ? { docker } : {}) });
    await driver.start();
    try {
      const outcome = await driver
        .apply({ config, snapshot, reason: `render --once (${summary})` })
        .catch((err: unknown) => {
          if (err instanceof CheckerError) process.stderr.write(`${err.output.trim()}\n`);
          throw err;
        });
      log.info(`${settings.kind} config ${outcome.configPath}: ${outcome.action} (${summary})`);
    } finally {
      await driver.close();
    }
    await new KvRendererReporter(consul, o.kvPrefix)
      .write(snapshot)
      .catch((err: unknown) => log.warn(`could not write the renderer report to Consul: ${errorMessage(err)}`));
  } finally {
    await consul.close();
    await docker?.close();
  }
}

/** A CI log gets the template's file, line and reason on one line, without eta's compiled source. */
function oneLineTemplateErrors<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof TemplateError) throw new TemplateError(templateErrorText(err));
    throw err;
  }
}

/** --dry: the same checker the install would use, on a temp copy next to the target when possible. */
async function checkCandidate(
  config: string,
  s: RenderSettings,
  o: RenderOptions,
  docker: DockerodeDockerClient | undefined,
): Promise<void> {
  const checker = proxyChecker(s.kind, proxyProcess(o, s, docker));
  // Next to the target, relative includes resolve as they will once installed (and in the sidecar
  // layout the proxy's container sees the file); otherwise a private temp folder.
  const targetDir = path.dirname(s.configPath);
  const nearTarget = (await stat(targetDir).catch(() => undefined))?.isDirectory() ?? false;
  const dir = nearTarget ? targetDir : await mkdtemp(path.join(tmpdir(), 'switchyard-dry-'));
  const file = path.join(dir, `.${path.basename(s.configPath)}.dry-${process.pid}.tmp`);
  try {
    await writeFile(file, config, { mode: 0o600 });
    await checker.check(file);
  } catch (err) {
    if (err instanceof CheckerError) process.stderr.write(`${err.output.trim()}\n`);
    throw err;
  } finally {
    await rm(file, { force: true });
    if (!nearTarget) await rm(dir, { recursive: true, force: true });
  }
}
