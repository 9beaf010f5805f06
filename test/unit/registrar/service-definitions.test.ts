import { describe, expect, it } from '@jest/globals';
import type { ContainerInfo } from '../../../src/docker/docker-client.js';
import { LabelError } from '../../../src/errors.js';
import {
  imageBaseName,
  serviceDefinitions,
  type DefinitionOptions,
  type Definitions,
} from '../../../src/registrar/service-definitions.js';

const opts = (o: Partial<DefinitionOptions> = {}): DefinitionOptions => ({
  owner: 'host1',
  colorLabel: 'color',
  selection: 'labelled',
  extraTags: [],
  internal: false,
  healthTtl: '72h',
  ...o,
});

function container(o: Partial<ContainerInfo> = {}): ContainerInfo {
  return {
    id: 'c0ffee'.padEnd(64, '0'),
    name: 'web-1',
    image: 'shop/web:1.0',
    hostname: 'c0ffee000000',
    labels: {},
    env: {},
    running: true,
    ports: [{ containerPort: 8080, protocol: 'tcp', hostPort: 32768, hostIp: '0.0.0.0' }],
    networks: [{ name: 'bridge', ipAddress: '172.17.0.5', ipv6Address: '' }],
    networkMode: 'bridge',
    ...o,
  };
}

function services(d: Definitions) {
  if (!d.selected) throw new Error(`not selected: ${d.reason}`);
  return d.services;
}

function labelError(fn: () => unknown): LabelError {
  try {
    fn();
  } catch (err) {
    if (err instanceof LabelError) return err;
    throw err;
  }
  throw new Error('expected a LabelError');
}

describe('selection rule', () => {
  it('by default takes containers with the color label or an explicit SERVICE_NAME, nothing else', () => {
    expect(serviceDefinitions(container(), opts())).toEqual({
      selected: false,
      reason: 'no "color" label and no SERVICE_NAME',
    });
    expect(services(serviceDefinitions(container({ labels: { color: 'blue' } }), opts()))).toHaveLength(1);
    expect(services(serviceDefinitions(container({ env: { SERVICE_NAME: 'web' } }), opts()))).toHaveLength(1);
    expect(services(serviceDefinitions(container({ env: { SERVICE_8080_NAME: 'web' } }), opts()))).toHaveLength(1);
  });

  it('uses the configured color label key', () => {
    const c = container({ labels: { 'com.example.color': 'green' } });
    expect(serviceDefinitions(c, opts()).selected).toBe(false);
    expect(services(serviceDefinitions(c, opts({ colorLabel: 'com.example.color' })))[0]!.tags).toEqual(['green']);
  });

  it('explicit: only ports with a name; a color label alone is not enough', () => {
    expect(serviceDefinitions(container({ labels: { color: 'blue' } }), opts({ selection: 'explicit' })).selected).toBe(
      false,
    );
    const c = container({
      env: { SERVICE_80_NAME: 'http' },
      ports: [
        { containerPort: 80, protocol: 'tcp', hostPort: 8000 },
        { containerPort: 443, protocol: 'tcp', hostPort: 4443 },
      ],
    });
    expect(services(serviceDefinitions(c, opts({ selection: 'explicit' }))).map((s) => s.name)).toEqual(['http']);
  });

  it('published: every container with a published port, as Registrator does by default', () => {
    expect(services(serviceDefinitions(container(), opts({ selection: 'published' })))).toHaveLength(1);
    const none = serviceDefinitions(
      container({ ports: [{ containerPort: 8080, protocol: 'tcp' }] }),
      opts({ selection: 'published' }),
    );
    expect(none).toMatchObject({ selected: true, services: [], notes: [expect.stringContaining('publishes no port')] });
  });

  it('SERVICE_IGNORE skips the container; SERVICE_<port>_IGNORE skips one port', () => {
    expect(serviceDefinitions(container({ labels: { color: 'blue', SERVICE_IGNORE: 'true' } }), opts())).toMatchObject({
      selected: false,
      reason: 'label SERVICE_IGNORE is set',
    });
    expect(
      services(serviceDefinitions(container({ labels: { color: 'blue', SERVICE_IGNORE: 'false' } }), opts())),
    ).toHaveLength(1);
    const c = container({
      labels: { color: 'blue', SERVICE_443_IGNORE: '1' },
      ports: [
        { containerPort: 80, protocol: 'tcp', hostPort: 8000 },
        { containerPort: 443, protocol: 'tcp', hostPort: 4443 },
      ],
    });
    expect(services(serviceDefinitions(c, opts())).map((s) => s.port)).toEqual([8000]);
  });
});

// The examples of Registrator's user guide ("Service Object"), with our owner id as the hostname.
describe("Registrator's documented examples", () => {
  const all = opts({ selection: 'published' });

  it('single service with defaults: docker run -d --name redis.0 -p 10000:6379 progrium/redis', () => {
    const [s, ...rest] = services(
      serviceDefinitions(
        container({
          name: 'redis.0',
          image: 'progrium/redis',
          ports: [{ containerPort: 6379, protocol: 'tcp', hostPort: 10000, hostIp: '0.0.0.0' }],
        }),
        all,
      ),
    );
    expect(rest).toEqual([]);
    expect(s).toMatchObject({ id: 'host1:redis.0:6379', name: 'redis', port: 10000, tags: [], address: '' });
  });

  it('single service with metadata: SERVICE_NAME=db SERVICE_TAGS=master,backups SERVICE_REGION=us2', () => {
    const [s] = services(
      serviceDefinitions(
        container({
          name: 'redis.0',
          image: 'progrium/redis',
          env: { SERVICE_NAME: 'db', SERVICE_TAGS: 'master,backups', SERVICE_REGION: 'us2' },
          ports: [{ containerPort: 6379, protocol: 'tcp', hostPort: 10000 }],
        }),
        all,
      ),
    );
    expect(s).toMatchObject({ id: 'host1:redis.0:6379', name: 'db', port: 10000, tags: ['master', 'backups'] });
    expect(s!.meta.region).toBe('us2');
  });

  it('multiple services with defaults: -p 4443:443 -p 8000:80 progrium/nginx → nginx-443 and nginx-80', () => {
    const ss = services(
      serviceDefinitions(
        container({
          name: 'nginx.0',
          image: 'progrium/nginx',
          ports: [
            { containerPort: 443, protocol: 'tcp', hostPort: 4443 },
            { containerPort: 80, protocol: 'tcp', hostPort: 8000 },
          ],
        }),
        all,
      ),
    );
    expect(ss.map((s) => [s.id, s.name, s.port])).toEqual([
      ['host1:nginx.0:80', 'nginx-80', 8000],
      ['host1:nginx.0:443', 'nginx-443', 4443],
    ]);
  });

  it('multiple services with metadata: SERVICE_443_NAME=https SERVICE_443_ID=https.12345 SERVICE_443_SNI=enabled SERVICE_80_NAME=http SERVICE_TAGS=www', () => {
    const ss = services(
      serviceDefinitions(
        container({
          name: 'nginx.0',
          image: 'progrium/nginx',
          env: {
            SERVICE_443_NAME: 'https',
            SERVICE_443_ID: 'https.12345',
            SERVICE_443_SNI: 'enabled',
            SERVICE_80_NAME: 'http',
            SERVICE_TAGS: 'www',
          },
          ports: [
            { containerPort: 443, protocol: 'tcp', hostPort: 4443 },
            { containerPort: 80, protocol: 'tcp', hostPort: 8000 },
          ],
        }),
        all,
      ),
    );
    expect(ss.map((s) => ({ id: s.id, name: s.name, port: s.port, tags: s.tags, sni: s.meta.sni }))).toEqual([
      { id: 'host1:nginx.0:80', name: 'http', port: 8000, tags: ['www'], sni: undefined },
      { id: 'https.12345', name: 'https', port: 4443, tags: ['www'], sni: 'enabled' },
    ]);
  });

  it('SERVICE_NAME on a container with several ports gets the -<port> suffix (Registrator rule)', () => {
    const ss = services(
      serviceDefinitions(
        container({
          env: { SERVICE_NAME: 'web' },
          ports: [
            { containerPort: 80, protocol: 'tcp', hostPort: 8000 },
            { containerPort: 53, protocol: 'udp', hostPort: 5353 },
          ],
        }),
        all,
      ),
    );
    expect(ss.map((s) => [s.id, s.name, s.tags])).toEqual([
      ['host1:web-1:53:udp', 'web-53', ['udp']],
      ['host1:web-1:80', 'web-80', []],
    ]);
  });
});

describe('the registration', () => {
  it('carries color, SERVICE_TAGS and --tags as tags, and owner/container/color/image as Meta', () => {
    const [s] = services(
      serviceDefinitions(
        container({ labels: { color: 'blue', SERVICE_TAGS: 'v2, canary,blue' }, env: { SERVICE_TEAM: 'shop' } }),
        opts({ extraTags: ['prod', 'v2'] }),
      ),
    );
    expect(s).toEqual({
      id: 'host1:web-1:8080',
      name: 'web',
      tags: ['blue', 'v2', 'canary', 'prod'],
      address: '',
      port: 32768,
      meta: {
        color: 'blue',
        container_id: 'c0ffee'.padEnd(64, '0'),
        container_name: 'web-1',
        image: 'shop/web:1.0',
        switchyard_owner: 'host1',
        team: 'shop',
      },
      checks: [],
    });
  });

  it('labels win over env', () => {
    const [s] = services(
      serviceDefinitions(
        container({ env: { SERVICE_NAME: 'from-env' }, labels: { SERVICE_NAME: 'from-label' } }),
        opts(),
      ),
    );
    expect(s!.name).toBe('from-label');
  });

  it('user metadata never overrides the reserved Meta keys', () => {
    const [s] = services(
      serviceDefinitions(
        container({ labels: { color: 'blue', SERVICE_SWITCHYARD_OWNER: 'evil', SERVICE_COLOR: 'red' } }),
        opts(),
      ),
    );
    expect(s!.meta.switchyard_owner).toBe('host1');
    expect(s!.meta.color).toBe('blue');
  });

  it('address: --ip, else a specific HostIp, else empty (Consul then uses the agent address)', () => {
    const c = (hostIp: string) =>
      container({
        labels: { color: 'blue' },
        ports: [{ containerPort: 8080, protocol: 'tcp', hostPort: 1234, hostIp }],
      });
    expect(services(serviceDefinitions(c('0.0.0.0'), opts()))[0]!.address).toBe('');
    expect(services(serviceDefinitions(c('127.0.0.1'), opts()))[0]!.address).toBe('127.0.0.1');
    expect(services(serviceDefinitions(c('0.0.0.0'), opts({ advertiseIp: '10.1.2.3' })))[0]!.address).toBe('10.1.2.3');
  });

  it('one service per container port even when Docker lists a 0.0.0.0 and a :: binding', () => {
    const ss = services(
      serviceDefinitions(
        container({
          labels: { color: 'blue' },
          ports: [
            { containerPort: 8080, protocol: 'tcp', hostPort: 32768, hostIp: '::' },
            { containerPort: 8080, protocol: 'tcp', hostPort: 32768, hostIp: '0.0.0.0' },
          ],
        }),
        opts(),
      ),
    );
    expect(ss.map((s) => [s.name, s.port])).toEqual([['web', 32768]]);
  });

  it('--internal: every exposed port at the container IP on the chosen network', () => {
    const c = container({
      labels: { color: 'green' },
      ports: [{ containerPort: 8080, protocol: 'tcp' }],
      networks: [
        { name: 'front', ipAddress: '10.0.1.5', ipv6Address: '' },
        { name: 'back', ipAddress: '10.0.2.5', ipv6Address: '' },
      ],
    });
    expect(services(serviceDefinitions(c, opts({ internal: true })))[0]).toMatchObject({
      address: '10.0.1.5',
      port: 8080,
    });
    expect(services(serviceDefinitions(c, opts({ internal: true, network: 'back' })))[0]).toMatchObject({
      address: '10.0.2.5',
    });
    expect(labelError(() => serviceDefinitions(c, opts({ internal: true, network: 'nope' }))).message).toMatch(
      /not attached to network "nope"/,
    );
  });

  it('host-network containers register their exposed ports', () => {
    const c = container({
      labels: { color: 'blue' },
      networkMode: 'host',
      networks: [],
      ports: [{ containerPort: 9000, protocol: 'tcp' }],
    });
    expect(services(serviceDefinitions(c, opts({ advertiseIp: '127.0.0.1' })))[0]).toMatchObject({
      address: '127.0.0.1',
      port: 9000,
    });
  });

  it('derives a DNS-safe name from the image base name', () => {
    expect(imageBaseName('registry.example:5000/shop/my_app:1.0')).toBe('my_app');
    expect(imageBaseName('web@sha256:abcd')).toBe('web');
    expect(
      services(serviceDefinitions(container({ image: 'shop/my_app.v2:1', labels: { color: 'blue' } }), opts()))[0]!
        .name,
    ).toBe('my-app-v2');
  });
});

describe('checks', () => {
  it('SERVICE_CHECK_HTTP with interval, timeout, deregister-after and initial status', () => {
    const [s] = services(
      serviceDefinitions(
        container({
          labels: {
            color: 'blue',
            SERVICE_CHECK_HTTP: '/health',
            SERVICE_CHECK_INTERVAL: '5s',
            SERVICE_CHECK_TIMEOUT: '1s',
            SERVICE_CHECK_DEREGISTER_AFTER: '10m',
            SERVICE_CHECK_INITIAL_STATUS: 'passing',
          },
        }),
        opts({ advertiseIp: '10.0.0.9' }),
      ),
    );
    expect(s!.checks).toEqual([
      {
        checkId: 'host1:web-1:8080:check',
        name: 'HTTP check',
        http: 'http://10.0.0.9:32768/health',
        interval: '5s',
        timeout: '1s',
        deregisterCriticalServiceAfter: '10m',
        status: 'passing',
      },
    ]);
    expect(s!.meta).not.toHaveProperty('check_http');
  });

  it('SERVICE_CHECK_TCP and SERVICE_CHECK_TTL; the default interval is 10s and the default timeout 2s', () => {
    const tcp = services(
      serviceDefinitions(container({ labels: { color: 'blue', SERVICE_CHECK_TCP: 'true' } }), opts()),
    )[0]!;
    expect(tcp.checks).toEqual([
      {
        checkId: 'host1:web-1:8080:check',
        name: 'TCP check',
        tcp: '127.0.0.1:32768',
        interval: '10s',
        timeout: '2s',
      },
    ]);
    const ttl = services(
      serviceDefinitions(container({ labels: { color: 'blue', SERVICE_CHECK_TTL: '30s' } }), opts()),
    )[0]!;
    expect(ttl.checks[0]).toMatchObject({ ttl: '30s' });
    expect(ttl.checks[0]).not.toHaveProperty('interval');
    expect(ttl.checks[0]).not.toHaveProperty('timeout');
  });

  it('a Docker HEALTHCHECK becomes a TTL check: starting and unhealthy are critical, healthy is passing', () => {
    const check = (health: 'starting' | 'healthy' | 'unhealthy') =>
      services(serviceDefinitions(container({ labels: { color: 'blue' }, health }), opts()))[0]!.checks[0];
    expect(check('starting')).toMatchObject({
      checkId: 'host1:web-1:8080:docker-health',
      ttl: '72h',
      status: 'critical',
    });
    expect(check('unhealthy')).toMatchObject({ status: 'critical' });
    expect(check('healthy')).toMatchObject({ status: 'passing' });
    expect(services(serviceDefinitions(container({ labels: { color: 'blue' } }), opts()))[0]!.checks).toEqual([]);
  });
});

describe('hostile and broken labels → LabelError naming the label', () => {
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['bad color', { color: 'Blue;rm' }, /label color="Blue;rm" is not a valid color/],
    [
      'service name with a space',
      { SERVICE_NAME: 'web app' },
      /label SERVICE_NAME="web app" is not a valid service name/,
    ],
    [
      'service name with a newline',
      { SERVICE_NAME: 'web\nbackend evil' },
      /label SERVICE_NAME contains control characters/,
    ],
    ['service name too long', { SERVICE_NAME: 'a'.repeat(64) }, /not a valid service name/],
    [
      'non-numeric port',
      { color: 'blue', SERVICE_80x_NAME: 'web' },
      /label SERVICE_80x_NAME: expected SERVICE_<port>_<KEY> with a port from 1 to 65535/,
    ],
    ['port out of range', { color: 'blue', SERVICE_70000_NAME: 'web' }, /SERVICE_70000_NAME/],
    [
      'unknown check form',
      { color: 'blue', SERVICE_CHECK_GRPC: 'x' },
      /label SERVICE_CHECK_GRPC is not a known check form/,
    ],
    ['script check', { color: 'blue', SERVICE_CHECK_SCRIPT: 'curl x' }, /script checks are not supported/],
    [
      'bad interval',
      { color: 'blue', SERVICE_CHECK_HTTP: '/h', SERVICE_CHECK_INTERVAL: 'often' },
      /label SERVICE_CHECK_INTERVAL="often" is not a duration/,
    ],
    ['check path without slash', { color: 'blue', SERVICE_CHECK_HTTP: 'health' }, /must be a path starting with \//],
    ['two check forms', { color: 'blue', SERVICE_CHECK_HTTP: '/h', SERVICE_CHECK_TCP: 'true' }, /only one of/],
    [
      'bad initial status',
      { color: 'blue', SERVICE_CHECK_TCP: '1', SERVICE_CHECK_INITIAL_STATUS: 'ok' },
      /expected passing, warning or critical/,
    ],
    ['tag with a brace', { color: 'blue', SERVICE_TAGS: 'ok,}evil{' }, /label SERVICE_TAGS: tag "}evil{"/],
    [
      'service id with a slash',
      { color: 'blue', SERVICE_ID: '../../x' },
      /label SERVICE_ID="..\/..\/x" is not a valid service ID/,
    ],
    [
      'meta key Consul refuses',
      { color: 'blue', 'SERVICE_A.B': 'x' },
      /label SERVICE_A.B: "a.b" cannot be a Consul Meta key/,
    ],
    ['meta value too long', { color: 'blue', SERVICE_NOTE: 'x'.repeat(600) }, /label SERVICE_NOTE is longer than 512/],
  ];
  it.each(cases)('%s', (_what, labels, message) => {
    const err = labelError(() => serviceDefinitions(container({ labels }), opts()));
    expect(err.message).toMatch(message);
    expect(err.label).toMatch(/^(label |env )?[A-Za-z_.0-9]+/);
  });

  it('names env as the source when the bad value came from the environment', () => {
    const err = labelError(() => serviceDefinitions(container({ env: { SERVICE_NAME: 'bad name' } }), opts()));
    expect(err.label).toBe('env SERVICE_NAME');
  });
});

// Found by the label → config fuzz (test/unit/render/label-config-fuzz.test.ts): a label *key* with
// a newline reached the error message raw, so the registrar's warning split into two log lines.
describe('label keys with control characters stay on one line in the error', () => {
  it('names a SERVICE_<port>_ key with a newline escaped', () => {
    const e = labelError(() =>
      serviceDefinitions(container({ labels: { color: 'blue', 'SERVICE_80_\n': '' } }), opts()),
    );
    expect(e.message).toBe('label SERVICE_80_\\n: expected SERVICE_<port>_<KEY> with a port from 1 to 65535');
    expect(e.label).toBe('label SERVICE_80_\\n');
  });

  it('names a Meta key with a newline escaped', () => {
    const e = labelError(() =>
      serviceDefinitions(container({ labels: { color: 'blue' }, env: { 'SERVICE_x\nbind *:1 ssl': 'v' } }), opts()),
    );
    expect(e.message).toBe(
      'env SERVICE_x\\nbind *:1 ssl: "x\\nbind *:1 ssl" cannot be a Consul Meta key (letters, digits, _ and -, at most 128)',
    );
  });
});
