import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';

const docs = new URL('../../../docs/', import.meta.url);

describe('docs/security.md', () => {
  it('shows each ACL policy file verbatim, so the policies the tests create are the documented ones', () => {
    const security = readFileSync(new URL('security.md', docs), 'utf8');
    const files = readdirSync(new URL('acl/', docs)).filter((f) => f.endsWith('.hcl'));
    expect(files.sort()).toEqual(['control.hcl', 'register.hcl', 'render.hcl', 'rollouts.hcl']);
    for (const f of files) {
      const hcl = readFileSync(new URL(`acl/${f}`, docs), 'utf8');
      expect(security).toContain(`\`docs/acl/${f}\`\n\n\`\`\`hcl\n${hcl}\`\`\``);
    }
  });
});
