import { describe, expect, it } from '@jest/globals';
import { goldenCases } from '../../fixtures/golden/golden.js';

/**
 * The hostile snapshot puts newlines, `;`, `{`, `}`, `#`, spaces, quotes, `$` and a thousand
 * characters into every field a label or Consul controls. None of it may reach a directive.
 */
const MARKERS = ['*:1 ssl', 'a;b', 'a{b}', '}#', 'with spaces', 'quote"', `'q`, '$hostile_var'];

describe('hostile values cannot inject a directive', () => {
  for (const c of goldenCases().filter((g) => g.name === 'hostile')) {
    const lines = c.rendered.split('\n');
    const directives = lines.filter((l) => !l.trim().startsWith('#'));

    it(`${c.kind}: no marker appears outside a comment`, () => {
      for (const m of MARKERS) expect(directives.filter((l) => l.includes(m))).toEqual([]);
    });

    it(`${c.kind}: listens only where the params say`, () => {
      const listens = directives.map((l) => l.trim()).filter((l) => /^(bind|listen) /.test(l));
      expect(new Set(listens)).toEqual(
        c.kind === 'haproxy'
          ? new Set(['bind *:1936', 'bind *:80', 'bind *:8080'])
          : new Set(['listen *:80;', 'listen *:8080;', 'listen *:80 default_server;', 'listen *:8080 default_server;']),
      );
    });

    it(`${c.kind}: serves only the valid instance, and the hostile services under hashed names`, () => {
      const servers = directives.map((l) => l.trim()).filter((l) => /^server \S+ \d/.test(l) || /^server \d/.test(l));
      const endpoints = new Set(servers.map((l) => (c.kind === 'haproxy' ? l.split(' ')[2] : l.split(' ')[1])));
      endpoints.delete('0.0.0.0:0'); // spare Runtime API slots
      expect(endpoints).toEqual(new Set(['10.0.1.1:8080']));
      const names = directives
        .map((l) => /^(?:backend|\s*upstream) (\S+)/.exec(l)?.[1])
        .filter((n): n is string => n !== undefined);
      for (const n of names) expect(n).toMatch(/^[a-z][a-z0-9_]{0,60}$/);
    });

    it(`${c.kind}: every line is bounded (the 1000-character name is cut and hashed)`, () => {
      for (const l of lines) expect(l.length).toBeLessThanOrEqual(300);
    });
  }
});
