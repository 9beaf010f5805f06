import { Option, type Command } from 'commander';
import { LOG_LEVELS, type LogLevel } from '../log/logger.js';
import { choiceParser, parseBool } from './values.js';

/**
 * Options every subcommand shares, with the ecosystem's environment names where they exist
 * (DOCKER_HOST, and the Consul CLI's CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, CONSUL_CACERT, …) and
 * SWITCHYARD_* for our own.
 */
export interface CommonOptions {
  consulAddr: string;
  consulHttpSsl: boolean;
  consulToken?: string;
  consulTokenFile?: string;
  consulCacert?: string;
  consulCapath?: string;
  consulClientCert?: string;
  consulClientKey?: string;
  consulTlsServerName?: string;
  consulSslVerify: boolean;
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
    .addOption(
      new Option('--consul-http-ssl [bool]', 'use HTTPS for a --consul-addr given as host:port')
        .env('CONSUL_HTTP_SSL')
        .argParser(parseBool)
        .preset('true')
        .default(false),
    )
    .addOption(
      new Option(
        '--consul-token <token>',
        'Consul ACL token (prefer --consul-token-file: a flag shows in the process list)',
      ).env('CONSUL_HTTP_TOKEN'),
    )
    .addOption(
      new Option(
        '--consul-token-file <path>',
        'file holding the Consul ACL token; wins over --consul-token; re-read when it changes',
      ).env('CONSUL_HTTP_TOKEN_FILE'),
    )
    .addOption(
      new Option('--consul-cacert <path>', 'PEM file of the CA that signed Consul’s HTTPS certificate').env(
        'CONSUL_CACERT',
      ),
    )
    .addOption(
      new Option('--consul-capath <dir>', 'folder of PEM CA certificates to trust for Consul').env('CONSUL_CAPATH'),
    )
    .addOption(
      new Option(
        '--consul-client-cert <path>',
        'PEM client certificate for Consul (when it verifies incoming HTTPS)',
      ).env('CONSUL_CLIENT_CERT'),
    )
    .addOption(new Option('--consul-client-key <path>', 'PEM key of --consul-client-cert').env('CONSUL_CLIENT_KEY'))
    .addOption(
      new Option(
        '--consul-tls-server-name <name>',
        'name to expect in Consul’s certificate (and send as SNI) instead of the address’s host',
      ).env('CONSUL_TLS_SERVER_NAME'),
    )
    .addOption(
      new Option('--consul-ssl-verify <bool>', 'verify Consul’s HTTPS certificate (false only for testing)')
        .env('CONSUL_HTTP_SSL_VERIFY')
        .argParser(parseBool)
        .default(true),
    )
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
