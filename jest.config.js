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
  // test/keystone needs a real Keystone (`npm run test:keystone`). The CDK assertions and the
  // chaos suite are the two slowest groups (synthesizing stacks, thousands of operations): each
  // has its own script (`npm run test:infra`, `npm run test:chaos`), CI runs both after
  // `npm test`, and `npm test` stays a loop a developer can wait for.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/keystone/', '<rootDir>/test/infra/', '<rootDir>/test/chaos/'],
  // Jest's default is one worker fewer than the cores: on a 2-core machine, one. Two halve the
  // suite's time there (each suite's emulators are its own; none shares a port or a directory).
  maxWorkers: 2,
  testTimeout: 120000,
  setupFiles: ['<rootDir>/test/support/quietLogger.ts'],
};
