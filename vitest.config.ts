import { defineConfig } from 'vitest/config';

// Two projects: unit tests are pure and run in parallel; integration tests start real etcd and
// PostgreSQL processes and run one file at a time (the machines have 2 cores).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 180_000,
          hookTimeout: 180_000,
          globalSetup: ['test/harness/global-setup.ts'],
        },
      },
    ],
  },
});
