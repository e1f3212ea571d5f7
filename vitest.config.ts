import { defineConfig } from 'vitest/config';

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
  },
});
