import { Option, type Command } from 'commander';
import { LOG_LEVELS, type LogLevel } from '../log/logger.js';
import { choiceParser } from './values.js';

/**
 * Options every subcommand shares, with the ecosystem's environment names where they exist
 * (DOCKER_HOST, CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN) and SWITCHYARD_* for our own.
 */
export interface CommonOptions {
  consulAddr: string;
  consulToken?: string;
  dockerHost?: string;
  kvPrefix: string;
  logLevel: LogLevel;
  logFormat: 'auto' | 'json' | 'text';
}

export function addCommonOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--consul-addr <addr>', 'Consul HTTP API address (host:port or http(s)://host:port)')
        .env('CONSUL_HTTP_ADDR')
        .default('127.0.0.1:8500'),
    )
    .addOption(new Option('--consul-token <token>', 'Consul ACL token').env('CONSUL_HTTP_TOKEN'))
    .addOption(
      new Option(
        '--docker-host <url>',
        'Docker Engine address (unix:///path or tcp://host:port); default: the local socket',
      ).env('DOCKER_HOST'),
    )
    .addOption(
      new Option('--kv-prefix <prefix>', 'Consul KV prefix holding each service’s blue-green state')
        .env('SWITCHYARD_KV_PREFIX')
        .default('switchyard'),
    )
    .addOption(
      new Option('--log-level <level>', 'error, warn, info or debug')
        .env('SWITCHYARD_LOG_LEVEL')
        .argParser(choiceParser(LOG_LEVELS))
        .default('info'),
    )
    .addOption(
      new Option('--log-format <format>', 'json, text, or auto (JSON unless stdout is a terminal)')
        .env('SWITCHYARD_LOG_FORMAT')
        .argParser(choiceParser(['auto', 'json', 'text'] as const))
        .default('auto'),
    );
}

export function jsonLogs(format: CommonOptions['logFormat']): boolean | undefined {
  return format === 'auto' ? undefined : format === 'json';
}
