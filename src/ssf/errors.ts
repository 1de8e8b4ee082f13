import type { ErrorCatalogue } from '../errors.ts'

/** Shared Signals streams. */
export const SSF_ERRORS = {
  stream_exists: { status: 409, meaning: 'the receiver already has a stream' },
} as const satisfies ErrorCatalogue
