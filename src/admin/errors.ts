import { AppError } from '../errors.ts'

/**
 * The admin services' error codes: stable, for the admin API and console to branch on. Each
 * maps to one HTTP status the admin API will answer with.
 */
export type AdminErrorCode =
  | 'invalid_input' // 400: `details` lists every bad field as "field: message"
  | 'invalid_cursor' // 400: a page cursor that this server did not issue
  | 'unknown_role' // 400: not one of ADMIN_ROLES
  | 'forbidden' // 403: the system store does not allow the caller this action
  | 'not_found' // 404
  | 'user_exists' // 409: email taken
  | 'client_exists' // 409: client id taken
  | 'provider_exists' // 409: identity provider alias taken
  | 'last_admin' // 409: the change would leave no enabled administrator
  | 'precondition_failed' // 412: If-Match does not match the current ETag (RFC 9110 §13.1.1)
  | 'invalid_state' // 409: the request or review is not in a state that allows this (e.g. already decided)
  | 'self_approval' // 403: a time-bound role grant is approved by another administrator, never its requester

const STATUS: Record<AdminErrorCode, number> = {
  invalid_input: 400,
  invalid_cursor: 400,
  unknown_role: 400,
  forbidden: 403,
  not_found: 404,
  user_exists: 409,
  client_exists: 409,
  provider_exists: 409,
  last_admin: 409,
  precondition_failed: 412,
  invalid_state: 409,
  self_approval: 403,
}

export const adminError = (code: AdminErrorCode, message: string, details?: unknown) =>
  new AppError(code, message, { status: STATUS[code], details })

/** zod issues as "field: message" lines (every bad field, not only the first). */
export function invalidInput(issues: { path: PropertyKey[]; message: string }[]) {
  const details = issues.map((i) => `${i.path.map(String).join('.') || '(input)'}: ${i.message}`)
  return adminError('invalid_input', `invalid input: ${details.join('; ')}`, details)
}
