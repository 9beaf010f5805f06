import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import {
  loadConsulTls,
  parseConsulAddress,
  TOKEN_FILE_CHECK_MS,
  tokenSource,
} from '../../../src/consul/consul-connection.js';
import { ConfigError } from '../../../src/errors.js';

const CERT = (n: number) => `-----BEGIN CERTIFICATE-----\nMIIB${n}\n-----END CERTIFICATE-----\n`;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sy-conn-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('parseConsulAddress', () => {
  it('takes the Consul CLI forms of CONSUL_HTTP_ADDR', () => {
    expect(parseConsulAddress('127.0.0.1:8500')).toMatchObject({ host: '127.0.0.1', port: 8500, secure: false });
    expect(parseConsulAddress('https://consul.example:8501')).toMatchObject({
      host: 'consul.example',
      port: 8501,
      secure: true,
      url: 'https://consul.example:8501',
    });
    expect(parseConsulAddress('http://[::1]:8500').url).toBe('http://[::1]:8500');
    expect(parseConsulAddress('10.0.0.1:8501', true).secure).toBe(true);
    expect(parseConsulAddress('https://c').port).toBe(443);
  });

  it('refuses what is not an address, naming it', () => {
    expect(() => parseConsulAddress('unix:///tmp/x')).toThrow(ConfigError);
    expect(() => parseConsulAddress('http://:bad:')).toThrow(/invalid Consul address "http:\/\/:bad:"/);
  });
});

describe('loadConsulTls', () => {
  it('reads the CA file and every certificate of the CA folder, with client certificate and server name', () => {
    writeFileSync(path.join(dir, 'ca.pem'), CERT(1));
    const capath = mkdtempSync(path.join(dir, 'capath-'));
    writeFileSync(path.join(capath, 'a.pem'), CERT(2) + CERT(3));
    writeFileSync(path.join(capath, 'README'), 'not a certificate');
    writeFileSync(path.join(dir, 'c.pem'), 'client cert');
    writeFileSync(path.join(dir, 'k.pem'), 'client key');
    const tls = loadConsulTls(
      {
        address: 'https://x:8501',
        caFile: path.join(dir, 'ca.pem'),
        caPath: capath,
        clientCert: path.join(dir, 'c.pem'),
        clientKey: path.join(dir, 'k.pem'),
        tlsServerName: 'server.dc1.consul',
      },
      parseConsulAddress('https://x:8501'),
    );
    expect(tls?.ca?.map((b) => b.toString())).toEqual([CERT(1), CERT(2), CERT(3)]);
    expect(tls?.cert?.toString()).toBe('client cert');
    expect(tls?.key?.toString()).toBe('client key');
    expect(tls?.servername).toBe('server.dc1.consul');
    expect(tls?.rejectUnauthorized).toBe(true);
  });

  it('turns verification off only when asked', () => {
    expect(loadConsulTls({ address: 'https://x', sslVerify: false }, parseConsulAddress('https://x'))).toEqual({
      rejectUnauthorized: false,
    });
  });

  it('refuses an unreadable file, a CA file without certificates, a lone key, and TLS files with plain HTTP', () => {
    const https = parseConsulAddress('https://x');
    expect(() => loadConsulTls({ address: 'https://x', caFile: path.join(dir, 'nope.pem') }, https)).toThrow(
      /^CONSUL_CACERT: cannot read .*nope\.pem/,
    );
    writeFileSync(path.join(dir, 'empty.pem'), 'nothing');
    expect(() => loadConsulTls({ address: 'https://x', caFile: path.join(dir, 'empty.pem') }, https)).toThrow(
      /CONSUL_CACERT: .*empty\.pem holds no PEM certificate/,
    );
    expect(() => loadConsulTls({ address: 'https://x', clientKey: path.join(dir, 'k.pem') }, https)).toThrow(
      /CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY go together/,
    );
    expect(() =>
      loadConsulTls({ address: 'x:8500', caFile: path.join(dir, 'empty.pem') }, parseConsulAddress('x:8500')),
    ).toThrow(/CONSUL_CACERT set but the Consul address http:\/\/x:8500 is plain HTTP/);
    expect(loadConsulTls({ address: 'x:8500' }, parseConsulAddress('x:8500'))).toBeUndefined();
  });
});

describe('tokenSource', () => {
  it('uses CONSUL_HTTP_TOKEN, or nothing', () => {
    expect(tokenSource({ token: 's3cret' }).token()).toBe('s3cret');
    expect(tokenSource({}).token()).toBeUndefined();
  });

  it('lets a non-empty token file win, and re-reads it when it changes', () => {
    const file = path.join(dir, 'token');
    writeFileSync(file, 'first-token\n');
    let now = 1_000;
    const source = tokenSource({ token: 'env-token', tokenFile: file }, () => now);
    expect(source.token()).toBe('first-token');
    writeFileSync(file, 'second-token-longer\n');
    utimesSync(file, new Date(), new Date(Date.now() + 5_000));
    expect(source.token()).toBe('first-token'); // not looked at again within the check interval
    now += TOKEN_FILE_CHECK_MS;
    expect(source.token()).toBe('second-token-longer');
    rmSync(file);
    now += TOKEN_FILE_CHECK_MS;
    expect(source.token()).toBe('second-token-longer'); // gone mid-rotation: keep the last one
  });

  it('falls back to CONSUL_HTTP_TOKEN when the file is empty, and refuses an unreadable file at start', () => {
    const file = path.join(dir, 'token');
    writeFileSync(file, '\n');
    expect(tokenSource({ token: 'env-token', tokenFile: file }).token()).toBe('env-token');
    expect(() => tokenSource({ tokenFile: path.join(dir, 'missing') })).toThrow(/^CONSUL_HTTP_TOKEN_FILE: cannot read/);
  });
});
