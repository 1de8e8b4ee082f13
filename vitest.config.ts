import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Files run in parallel workers; each test file makes its own database, server and port.
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
})
