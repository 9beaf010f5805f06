import { describe, expect, it } from '@jest/globals';
import { Command } from 'commander';
import { DEFAULT_HTTP_LISTEN, addHttpOptions, parseHttpListen } from '../../../src/cli/http-options.js';

describe('--http-listen', () => {
  it('takes host:port, a bare port, [v6]:port, or off', () => {
    expect(parseHttpListen('127.0.0.1:9000')).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(parseHttpListen('9000')).toEqual({ host: '0.0.0.0', port: 9000 });
    expect(parseHttpListen('[::1]:9000')).toEqual({ host: '::1', port: 9000 });
    expect(parseHttpListen('off')).toBe(false);
    expect(() => parseHttpListen('localhost')).toThrow('expected host:port or port, got "localhost", or off');
  });

  it(`defaults to ${DEFAULT_HTTP_LISTEN} and reads SWITCHYARD_HTTP_LISTEN`, () => {
    const parse = (argv: string[], env: Record<string, string> = {}) => {
      const saved = process.env.SWITCHYARD_HTTP_LISTEN;
      if (env.SWITCHYARD_HTTP_LISTEN) process.env.SWITCHYARD_HTTP_LISTEN = env.SWITCHYARD_HTTP_LISTEN;
      try {
        const cmd = addHttpOptions(new Command('run')).exitOverride();
        cmd.parse(argv, { from: 'user' });
        return cmd.opts<{ httpListen: unknown }>().httpListen;
      } finally {
        if (saved === undefined) delete process.env.SWITCHYARD_HTTP_LISTEN;
        else process.env.SWITCHYARD_HTTP_LISTEN = saved;
      }
    };
    expect(parse([])).toEqual({ host: '0.0.0.0', port: 9720 });
    expect(parse([], { SWITCHYARD_HTTP_LISTEN: '127.0.0.1:9999' })).toEqual({ host: '127.0.0.1', port: 9999 });
    expect(parse(['--http-listen', 'off'])).toBe(false);
  });
});
