import { describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { Command } from 'commander';
import { addRenderOptions, collectTemplateParams } from '../../../src/cli/render-flags.js';
import { defaultTemplatePath, type RenderOptions } from '../../../src/render/render-options.js';

function parse(args: string[], env: Record<string, string> = {}): RenderOptions {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const cmd = addRenderOptions(new Command('render').exitOverride().configureOutput({ writeErr: () => undefined }));
    cmd.parse(args, { from: 'user' });
    return cmd.opts<RenderOptions>();
  } finally {
    process.env = saved;
  }
}

describe('render options', () => {
  it('has production defaults', () => {
    const o = parse([]);
    expect(o).toMatchObject({
      proxy: 'haproxy',
      wait: { minMs: 250, maxMs: 1000 },
      growthWait: { minMs: 2000, maxMs: 30_000 },
      consulWait: 300_000,
      restartGrace: 30_000,
      retryDelay: 5_000,
      reload: true,
      colors: ['blue', 'green'],
      templateParam: {},
    });
    expect(o.services).toBeUndefined();
    expect(o.haproxyRuntimeApi).toBe(true);
    expect(parse(['--no-haproxy-runtime-api']).haproxyRuntimeApi).toBe(false);
  });

  it('reads flags and SWITCHYARD_* variables', () => {
    const o = parse(
      ['--template-param', 'mainPort=8000', '--template-param', 'log=stdout format raw local0 info', '--no-reload'],
      {
        SWITCHYARD_PROXY: 'nginx',
        SWITCHYARD_WAIT: '200ms:2s',
        SWITCHYARD_GROWTH_WAIT: '5s:1m',
        SWITCHYARD_SERVICES: 'web,api',
        SWITCHYARD_TEMPLATE_PARAMS: 'bind=127.0.0.1,statsPort=0',
      },
    );
    expect(o).toMatchObject({
      proxy: 'nginx',
      wait: { minMs: 200, maxMs: 2000 },
      growthWait: { minMs: 5000, maxMs: 60_000 },
      services: ['web', 'api'],
      reload: false,
      templateParam: { mainPort: '8000', log: 'stdout format raw local0 info' },
    });
    // Several params through the environment; a flag on the command line replaces them (commander: flags win).
    expect(parse([], { SWITCHYARD_TEMPLATE_PARAMS: 'bind=127.0.0.1,statsPort=0' }).templateParam).toEqual({
      bind: '127.0.0.1',
      statsPort: '0',
    });
  });

  it('refuses bad values with what was expected', () => {
    expect(() => parse(['--proxy', 'envoy'])).toThrow('expected one of haproxy, nginx, got "envoy"');
    expect(() => parse(['--consul-wait', '20m'])).toThrow('between 1s and 10m');
    expect(() => parse(['--wait', '2s:1s'])).toThrow('max must not be below min');
    expect(() => parse(['--growth-wait', '30s:2s'])).toThrow('max must not be below min');
    expect(parse(['--growth-wait', '0s']).growthWait).toEqual({ minMs: 0, maxMs: 0 });
    expect(() => parse(['--colors', 'Blue'])).toThrow('expected colors of 1-32');
    expect(() => parse(['--services', 'web;evil'])).toThrow('expected Consul service names');
    expect(() => collectTemplateParams('=x')).toThrow('expected key=value');
  });

  it('finds the shipped templates relative to the package, not the working directory', () => {
    const cwd = process.cwd();
    process.chdir('/');
    try {
      expect(existsSync(defaultTemplatePath('haproxy'))).toBe(true);
      expect(defaultTemplatePath('nginx')).toMatch(/templates\/nginx\.conf\.eta$/);
    } finally {
      process.chdir(cwd);
    }
  });
});
