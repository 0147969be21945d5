// Tests run as native ES modules (middy 7 is ESM only); swc strips the types, `tsc --noEmit`
// in `npm test` does the type checking.
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2023' },
      module: { type: 'es6' },
    }],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // test/keystone needs a real Keystone: `npm run test:keystone`.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/keystone/'],
  testTimeout: 120000,
  setupFiles: ['<rootDir>/test/support/quietLogger.ts'],
};
