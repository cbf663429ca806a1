/** Jest runs in native ESM mode (NestJS 12 ships ES modules only); swc transpiles TypeScript. */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  // Sources import siblings as './x.js' (NodeNext); point jest at the .ts file.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.spec.ts'],
  testTimeout: 20000,
  // Some suites run the built service as a child process (restart, SIGKILL).
  globalSetup: '<rootDir>/test/support/build-dist.js',
};
