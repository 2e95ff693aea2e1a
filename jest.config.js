/**
 * Two jest projects: `unit` (pure logic, no servers) and `integration` (the real local stack,
 * brought up or reused by test/integration/global-setup.js). Both run as native ES modules.
 */

// Folders written by the local stack, the bench and `npm run build`, never source: `.stack/` holds etcd's
// `member/snap/*.snap`, which jest would otherwise report as obsolete snapshot files (exit 1).
// Out of the module map, so no snapshot, test or module is ever found there.
const generated = [
  '<rootDir>/\\.stack/',
  '<rootDir>/\\.tools/',
  '<rootDir>/bench-results/',
  '<rootDir>/dist/',
];

const common = {
  testEnvironment: 'node',
  modulePathIgnorePatterns: generated,
  testPathIgnorePatterns: ['/node_modules/', ...generated],
  watchPathIgnorePatterns: generated,
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'es6' } },
    ],
  },
};

export default {
  // testTimeout is a global option (jest ignores it inside a project): integration waits need it.
  testTimeout: 120000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/integration/global-setup.js',
      globalTeardown: '<rootDir>/test/integration/global-teardown.js',
    },
  ],
};
