import { beforeAll, describe, expect, it } from '@jest/globals';
import { requireBuiltCli, switchyard } from './switch/cli.js';

/**
 * A bad --consul-addr is a configuration error in every command: exit code 2 and one line naming
 * the option, before anything is contacted (no Consul agent runs for this test).
 */
describe('a bad --consul-addr', () => {
  beforeAll(() => requireBuiltCli());

  const commands: Array<[string, string[]]> = [
    ['run', ['run', '--no-render', '--http-listen', 'off']],
    ['render', ['render', '--once', '--dry']],
    ['status', ['status']],
    ['switch', ['switch', 'green', '--service', 'app']],
    ['rollback', ['rollback', '--service', 'app']],
    ['canary', ['canary', 'green', '10', '--service', 'app']],
  ];

  it.each(commands)(
    '%s exits 2 naming the option',
    async (_name, args) => {
      const r = await switchyard([...args, '--consul-addr', 'http://bad host:not-a-port'], {}, 20_000);
      expect(r.stderr).toContain("option '--consul-addr' (CONSUL_HTTP_ADDR)");
      expect(r.stderr).toContain('invalid Consul address');
      expect(r.code).toBe(2);
    },
    30_000,
  );
});
