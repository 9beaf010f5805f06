import { InvalidArgumentError, Option, type Command } from 'commander';
import { parseListen } from './values.js';
import { errorMessage } from '../errors.js';

/** `--http-listen`: where `run` serves /healthz and /metrics; "off" serves nothing. */
export interface HttpOptions {
  httpListen?: { host: string; port: number } | false;
}

export const DEFAULT_HTTP_LISTEN = '0.0.0.0:9720';

export function parseHttpListen(value: string): { host: string; port: number } | false {
  if (['off', 'none', 'false'].includes(value.trim().toLowerCase())) return false;
  try {
    return parseListen(value);
  } catch (err) {
    throw new InvalidArgumentError(`${errorMessage(err)}, or off`);
  }
}

export function addHttpOptions(cmd: Command): Command {
  return cmd.addOption(
    new Option('--http-listen <addr>', 'where to serve /healthz and /metrics: host:port, port, or off')
      .env('SWITCHYARD_HTTP_LISTEN')
      .argParser(parseHttpListen)
      .default(parseHttpListen(DEFAULT_HTTP_LISTEN), DEFAULT_HTTP_LISTEN),
  );
}
