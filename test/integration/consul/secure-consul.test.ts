import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConsulHttpClient, type ConsulHttpClientOptions } from '../../../src/consul/consul-http-client.js';
import { ConsulAclError, ConsulTlsError } from '../../../src/errors.js';
import { ConsulPki, startSecureConsul, type SecureConsul } from '../../helpers/secure-consul.js';

const acl = (role: string) => new URL(`../../../docs/acl/${role}.hcl`, import.meta.url).pathname;

/** The adapter against a TLS-only, default-deny Consul, with the policies docs/security.md gives. */
describe('ConsulHttpClient against Consul with TLS and ACLs (default deny)', () => {
  let consul: SecureConsul;
  let tokens: Record<'register' | 'render' | 'control', string>;
  const clients: ConsulHttpClient[] = [];
  const errors: string[] = [];

  const client = (extra: Partial<ConsulHttpClientOptions> = {}): ConsulHttpClient => {
    const c = new ConsulHttpClient({
      address: consul.agent.url,
      caFile: consul.pki.caFile,
      clientCert: consul.agent.clientTls.cert,
      clientKey: consul.agent.clientTls.key,
      timeoutMs: 5_000,
      ...extra,
    });
    clients.push(c);
    return c;
  };
  const own = (c: ConsulHttpClient): ConsulHttpClient => {
    clients.push(c);
    return c;
  };
  const failure = async (p: Promise<unknown>): Promise<Error> => {
    const err = await p.then(
      () => new Error('expected a failure'),
      (e: unknown) => e as Error,
    );
    errors.push(err.message);
    return err;
  };

  beforeAll(async () => {
    consul = await startSecureConsul();
    tokens = {
      register: await consul.acl.tokenFromPolicyFile('switchyard-register', acl('register')),
      render: await consul.acl.tokenFromPolicyFile('switchyard-render', acl('render')),
      control: await consul.acl.tokenFromPolicyFile('switchyard-control', acl('control')),
    };
  }, 90_000);

  afterAll(async () => {
    for (const c of clients) await c.close();
    await consul?.stop();
  });

  it('registers, reports health and lists with the register policy over HTTPS with a client certificate', async () => {
    const c = client({ token: tokens.register });
    expect(await c.agentNodeName()).toBe(consul.agent.nodeName);
    await c.registerService({
      id: 'n1:app-1:80',
      name: 'app',
      tags: ['blue'],
      address: '127.0.0.1',
      port: 18080,
      meta: { color: 'blue' },
      checks: [{ checkId: 'n1:app-1:80:docker', name: 'docker health', ttl: '60s', status: 'passing' }],
    });
    await c.updateTtlCheck('n1:app-1:80:docker', 'passing', 'healthy');
    expect((await c.agentServices()).map((s) => s.id)).toContain('n1:app-1:80');
  });

  it('reads catalog, health, every check and the states with the render policy, and reports under renderers/', async () => {
    const c = client({ token: tokens.render });
    const catalog = await c.catalogServices();
    expect(Object.keys(catalog.value)).toContain('app');
    expect(catalog.index).toBeGreaterThan(0);
    const health = await c.healthService('app');
    expect(health.value.map((i) => [i.serviceId, i.node])).toEqual([['n1:app-1:80', consul.agent.nodeName]]);
    const checks = await c.healthChecks();
    expect(checks.value).toContainEqual(
      expect.objectContaining({ serviceName: 'app', checkId: 'n1:app-1:80:docker', status: 'passing' }),
    );
    expect(checks.value).toContainEqual(expect.objectContaining({ checkId: 'serfHealth', serviceId: '' }));
    expect((await c.kvList('switchyard/services/')).value).toEqual([]);
    expect(await c.kvPut(`switchyard/renderers/${consul.agent.nodeName}`, '{}')).toBe(true);
  });

  it('writes a state with check-and-set with the control policy', async () => {
    const c = client({ token: tokens.control });
    expect(await c.kvPut('switchyard/services/app/state', '{"live":"blue"}', { cas: 0 })).toBe(true);
    expect((await c.kvGet('switchyard/services/app/state'))?.value).toBe('{"live":"blue"}');
    expect((await c.kvList('switchyard/renderers/')).value.length).toBe(1);
  });

  it('names the operation and the resource, in one line, when a permission is missing', async () => {
    const render = client({ token: tokens.render });
    const reg = await failure(
      render.registerService({ id: 'x', name: 'app', tags: [], address: '127.0.0.1', port: 1, meta: {}, checks: [] }),
    );
    expect(reg).toBeInstanceOf(ConsulAclError);
    expect(reg.message).toBe('Consul ACL: token may not write service "app" (403)');
    const put = await failure(render.kvPut('switchyard/services/app/state', '{}'));
    expect(put.message).toBe('Consul ACL: token may not write key "switchyard/services/app/state" (403)');
    const control = client({ token: tokens.control });
    const report = await failure(control.kvPut('switchyard/renderers/me', '{}'));
    expect(report.message).toBe('Consul ACL: token may not write key "switchyard/renderers/me" (403)');
    const register = client({ token: tokens.register });
    const state = await failure(register.kvPut('switchyard/services/app/state', '{}'));
    expect(state.message).toBe('Consul ACL: token may not write key "switchyard/services/app/state" (403)');
  });

  it('says when the token is unknown or was deleted', async () => {
    const doomed = await consul.acl.tokenFromPolicyFile('switchyard-control', acl('control'));
    const c = client({ token: doomed });
    expect((await c.catalogServices()).value).toHaveProperty('app');
    await consul.acl.deleteToken(doomed);
    const err = await failure(c.catalogServices());
    expect(err).toBeInstanceOf(ConsulAclError);
    expect(err.message).toBe(
      'Consul ACL: the token is not known to Consul (unknown, deleted or expired) — cannot catalog services (403)',
    );
  });

  it('takes the token from a token file', async () => {
    const file = path.join(consul.pki.dir, 'control.token');
    writeFileSync(file, `${tokens.control}\n`);
    const c = client({ tokenFile: file });
    expect(await c.kvPut('switchyard/services/app/state', '{"live":"green"}')).toBe(true);
  });

  it('gives one clear line for a wrong CA, a missing or foreign client certificate and plain HTTP', async () => {
    const other = await ConsulPki.create();
    try {
      const wrongCa = await failure(client({ token: tokens.render, caFile: other.caFile }).catalogServices());
      expect(wrongCa).toBeInstanceOf(ConsulTlsError);
      expect(wrongCa.message).toBe(
        `Consul TLS: the certificate of ${consul.agent.url} is not signed by a trusted CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE) — set --consul-cacert or --consul-capath (CONSUL_CACERT, CONSUL_CAPATH) to Consul's CA`,
      );
      const noCert = await failure(
        new ConsulHttpClient({
          address: consul.agent.url,
          caFile: consul.pki.caFile,
          token: tokens.render,
        }).catalogServices(),
      );
      expect(noCert.message).toMatch(/^Consul TLS: https:\/\/127\.0\.0\.1:\d+ requires a client certificate/);
      const foreign = await other.cert('cli');
      const badCert = await failure(
        client({ token: tokens.render, clientCert: foreign.cert, clientKey: foreign.key }).catalogServices(),
      );
      expect(badCert).toBeInstanceOf(ConsulTlsError);
      expect(badCert.message).toMatch(/refused the client certificate \(ERR_SSL_TLSV1_ALERT_UNKNOWN_CA\)/);
      const plain = await failure(
        own(
          new ConsulHttpClient({ address: `http://${consul.agent.address}`, token: tokens.render }),
        ).catalogServices(),
      );
      expect(plain.message).toMatch(/only speaks HTTPS — use https:\/\//);
      const wrongName = await failure(
        client({ token: tokens.render, tlsServerName: 'other.example' }).catalogServices(),
      );
      expect(wrongName.message).toMatch(/not valid for the name asked for .*--consul-tls-server-name/);
      expect(
        Object.keys(
          (await client({ token: tokens.render, tlsServerName: 'server.dc1.consul' }).catalogServices()).value,
        ),
      ).toContain('app');
    } finally {
      other.remove();
    }
  });

  it('never puts a token in an error', () => {
    expect(errors.length).toBeGreaterThanOrEqual(9);
    for (const message of errors) {
      expect(message.split('\n')).toHaveLength(1);
      for (const secret of [...Object.values(tokens), consul.acl.managementToken])
        expect(message).not.toContain(secret);
    }
  });
});
