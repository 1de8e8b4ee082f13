import { AppError, type ErrorCatalogue } from '../errors.ts'

/**
 * The admin services' error codes: stable, for the admin API and console to branch on. Each
 * maps to one HTTP status the admin API answers with. (`forbidden` and `not_found` are the
 * common codes of src/errors.ts.)
 */
export const ADMIN_ERRORS = {
  invalid_input: { status: 400, meaning: 'admin API: `details` lists every bad field as "field: message"' },
  invalid_cursor: { status: 400, meaning: 'admin API: a page cursor that this server did not issue' },
  unknown_role: { status: 400, meaning: 'not one of the admin roles' },
  user_exists: { status: 409, meaning: 'a user with this email exists' },
  client_exists: { status: 409, meaning: 'a client with this client id exists' },
  provider_exists: { status: 409, meaning: 'an identity provider with this alias exists' },
  last_admin: { status: 409, meaning: 'the change would leave no enabled administrator' },
  precondition_failed: {
    status: 412,
    meaning: 'If-Match does not match the current ETag (RFC 9110 §13.1.1): read it again',
  },
  invalid_state: {
    status: 409,
    meaning: 'the request or review is not in a state that allows this (e.g. already decided)',
  },
  self_approval: {
    status: 403,
    meaning: 'a time-bound role grant is approved by another administrator, never its requester',
  },
} as const satisfies ErrorCatalogue

export type AdminErrorCode = keyof typeof ADMIN_ERRORS | 'forbidden' | 'not_found'

const STATUS = { forbidden: 403, not_found: 404 } as const

export const adminError = (code: AdminErrorCode, message: string, details?: unknown) =>
  new AppError(code, message, {
    status: code === 'forbidden' || code === 'not_found' ? STATUS[code] : ADMIN_ERRORS[code].status,
    details,
  })

/** zod issues as "field: message" lines (every bad field, not only the first). */
export function invalidInput(issues: { path: PropertyKey[]; message: string }[]) {
  const details = issues.map((i) => `${i.path.map(String).join('.') || '(input)'}: ${i.message}`)
  return adminError('invalid_input', `invalid input: ${details.join('; ')}`, details)
}
