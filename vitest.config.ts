import { defineConfig } from 'vitest/config';

// The code under test logs JSON lines (Powertools Logger) to stdout. They stay out of the test output unless
// TICKSET_TEST_LOGS=1: the level is SILENT for every test file and every process a test starts (tests that
// assert on logs set their own level), and console output is printed only for failing tests.
const showLogs = process.env.TICKSET_TEST_LOGS === '1';

export default defineConfig({
  resolve: { conditions: ['tickset-source'] },
  ssr: { resolve: { conditions: ['tickset-source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
    env: showLogs ? {} : { POWERTOOLS_LOG_LEVEL: 'SILENT' },
    silent: showLogs ? false : 'passed-only',
  },
});
