import type { ErrorCatalogue } from '../errors.ts'

/** Accounts, passwords and second factors. */
export const IDENTITY_ERRORS = {
  no_factor: { status: 400, meaning: 'the account has no second factor yet: add one first' },
} as const satisfies ErrorCatalogue
