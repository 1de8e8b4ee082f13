import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Generous: the suites must pass on a shared, loaded 2-core machine (a test that spawns the
    // server or the CLI waits for the machine, not for us). Speed is measured in bench/, never here.
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Files run in parallel workers; each test file makes its own database, server and port.
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
})
