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
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      slowTestThreshold: 30,
      // Real proxies, Consul and dockerd on a 2-core machine: seconds, not milliseconds.
      testTimeout: 30_000,
    },
  ],
};
