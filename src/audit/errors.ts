import type { ErrorCatalogue } from '../errors.ts'

/** The audit log. */
export const AUDIT_ERRORS = {
  empty_log: { status: 400, meaning: 'the audit log has no records to work on' },
} as const satisfies ErrorCatalogue
