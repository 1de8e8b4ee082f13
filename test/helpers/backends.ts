import { describe, it } from 'vitest'
import { pgTestUrl, redisTestUrl } from '../../src/db/testing.ts'

export interface Backend {
  name: string
  kind: 'sqlite' | 'postgresql'
  /** set on the PostgreSQL variant: the Redis the servers share */
  redisUrl: string | undefined
}

/**
 * Runs a suite on both deployments: SQLite with in-process state, and PostgreSQL + Redis when
 * TEST_DATABASE_URL and TEST_REDIS_URL are set. Without them the second variant is one skipped
 * test naming the variables, and the file says so on stderr once.
 */
export function describeOnBackends(
  file: string,
  title: string,
  body: (b: Backend) => void,
  labels: [string, string] = ['SQLite', 'PostgreSQL + Redis'],
) {
  const withServices = Boolean(pgTestUrl() && redisTestUrl())
  if (!withServices) console.warn(`${file}: ${labels[1]} variant skipped: set TEST_DATABASE_URL and TEST_REDIS_URL`)
  const variants = [
    { name: labels[0], kind: 'sqlite' as const, redisUrl: undefined, available: true },
    { name: labels[1], kind: 'postgresql' as const, redisUrl: redisTestUrl(), available: withServices },
  ]
  describe.each(variants)(`${title} on $name`, ({ available, ...backend }) => {
    if (!available) {
      it.skip('needs TEST_DATABASE_URL and TEST_REDIS_URL', () => {})
      return
    }
    body(backend)
  })
}
