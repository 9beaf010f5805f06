import { describe, expect, it } from '@jest/globals';
import { classifyConsulFailure, type ConsulOperation } from '../../../src/consul/consul-failure.js';
import { ConsulAclError, ConsulError, ConsulTlsError } from '../../../src/errors.js';

const register: ConsulOperation = {
  what: 'register service n1:app-1:80',
  access: 'write',
  resource: 'service',
  name: 'app',
};
const address = 'https://127.0.0.1:8501';

describe('classifyConsulFailure', () => {
  it('names the permission and the resource Consul says are missing', () => {
    const err = classifyConsulFailure({
      operation: register,
      address,
      statusCode: 403,
      body: `Permission denied: token with AccessorID '909f21e7-ba0a-37a5-c566-daefca6be2a8' lacks permission 'service:write' on "app"`,
    });
    expect(err).toBeInstanceOf(ConsulAclError);
    expect(err.message).toBe('Consul ACL: token may not write service "app" (403)');
    expect(err.statusCode).toBe(403);
  });

  it('names a key, and says when no token was sent at all', () => {
    const err = classifyConsulFailure({
      operation: { what: 'kv put switchyard/x', access: 'write', resource: 'key', name: 'switchyard/x' },
      address,
      statusCode: 403,
      body: `Permission denied: anonymous token lacks permission 'key:write' on "switchyard/x". The anonymous token is used implicitly when a request does not specify a token.`,
    });
    expect(err.message).toBe('Consul ACL: no token (anonymous) may not write key "switchyard/x" (403)');
  });

  it('falls back to the operation when Consul does not say which permission', () => {
    const err = classifyConsulFailure({ operation: register, address, statusCode: 403, body: 'Permission denied' });
    expect(err).toBeInstanceOf(ConsulAclError);
    expect(err.message).toBe('Consul ACL: token may not write service "app" (403)');
  });

  it('tells an unknown, deleted or expired token apart from a missing permission', () => {
    const err = classifyConsulFailure({ operation: register, address, statusCode: 403, body: 'ACL not found' });
    expect(err).toBeInstanceOf(ConsulAclError);
    expect(err.message).toBe(
      'Consul ACL: the token is not known to Consul (unknown, deleted or expired) — cannot register service n1:app-1:80 (403)',
    );
  });

  it.each([
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', /not signed by a trusted CA .*--consul-cacert/],
    ['SELF_SIGNED_CERT_IN_CHAIN', /not signed by a trusted CA/],
    ['CERT_HAS_EXPIRED', /expired or not yet valid/],
    ['ERR_TLS_CERT_ALTNAME_INVALID', /not valid for the name .*--consul-tls-server-name/],
    ['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', /requires a client certificate .*--consul-client-cert/],
    ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', /refused the client certificate/],
    ['ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', /refused the client certificate/],
    ['ERR_SSL_WRONG_VERSION_NUMBER', /does not answer HTTPS/],
  ])('turns TLS error %s into one clear line', (code, pattern) => {
    const err = classifyConsulFailure({
      operation: register,
      address,
      code,
      message: `openssl said ${code}\nsecond line`,
    });
    expect(err).toBeInstanceOf(ConsulTlsError);
    expect(err.message).toMatch(/^Consul TLS: /);
    expect(err.message).toMatch(pattern);
    expect(err.message).toContain(address);
    expect(err.message).not.toContain('\n');
  });

  it('says to use https when Consul answers plain HTTP with 400', () => {
    const err = classifyConsulFailure({
      operation: register,
      address: 'http://127.0.0.1:8501',
      statusCode: 400,
      body: 'Client sent an HTTP request to an HTTPS server.\n',
    });
    expect(err).toBeInstanceOf(ConsulTlsError);
    expect(err.message).toMatch(/only speaks HTTPS — use https:\/\//);
  });

  it('keeps other HTTP answers and network failures as plain Consul errors with the status', () => {
    const http500 = classifyConsulFailure({
      operation: register,
      address,
      statusCode: 500,
      body: 'rpc error: No cluster leader',
    });
    expect(http500).not.toBeInstanceOf(ConsulAclError);
    expect(http500).toBeInstanceOf(ConsulError);
    expect(http500.statusCode).toBe(500);
    expect(http500.message).toBe(
      `Consul register service n1:app-1:80 at ${address} failed (HTTP 500): rpc error: No cluster leader`,
    );
    const refused = classifyConsulFailure({
      operation: register,
      address,
      code: 'ECONNREFUSED',
      message: 'connect ECONNREFUSED',
    });
    expect(refused.message).toBe(
      `Consul register service n1:app-1:80 at ${address} failed (ECONNREFUSED): connect ECONNREFUSED`,
    );
    expect(refused.statusCode).toBeUndefined();
  });
});
