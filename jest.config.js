// Two projects so CI and developers can run the fast pure tests apart from the ones that drive
// real dockerd, Consul, HAProxy and nginx.
const transform = { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2023' } }] };
const common = {
  transform,
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testEnvironment: 'node',
};
export default {
  // Jest reads this only at the top level. Integration tests drive real proxies, Consul and dockerd on
  // a 2-core machine: seconds, not milliseconds; unit tests finish far below it anyway.
  testTimeout: 30_000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      slowTestThreshold: 30,
    },
  ],
};
