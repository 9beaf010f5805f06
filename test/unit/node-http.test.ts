import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const loadsUndici = (script: string): boolean => {
  const r = spawnSync(
    process.execPath,
    [
      '--no-warnings',
      '--input-type=module',
      '-e',
      `${script}\nprocess.stdout.write(String(process.moduleLoadList.some((m) => m.includes('undici'))));`,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`node exited ${r.status}: ${r.stderr}`);
  return r.stdout === 'true';
};

describe('node:http without undici', () => {
  it('an ESM import of node:http loads undici, the module src/node-http.ts does not', () => {
    // The first half is the reason for the module: if Node stops doing this, the module can go.
    expect(loadsUndici(`import http from 'node:http'; void http;`)).toBe(true);
    const file = path.join(SRC, 'node-http.ts');
    expect(
      loadsUndici(
        `const { http } = await import(${JSON.stringify(file)}); new http.Agent({ keepAlive: true }).destroy();`,
      ),
    ).toBe(false);
  });

  it('no source file imports node:http directly', () => {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (p.endsWith('.ts') && e.name !== 'node-http.ts') {
          const text = readFileSync(p, 'utf8');
          if (/^import\s+(?!type\b)[^;]*from\s+'(node:)?http'/m.test(text)) offenders.push(path.relative(SRC, p));
        }
      }
    };
    walk(SRC);
    expect(offenders).toEqual([]);
  });
});
