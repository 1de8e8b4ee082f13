import type { ErrorCatalogue } from '../errors.ts'

/** Storage. */
export const DB_ERRORS = {
  dependency_unavailable: {
    status: 503,
    expose: true,
    meaning: 'the database or Redis is down or not answering; `Retry-After` says when to try again',
  },
} as const satisfies ErrorCatalogue
