import type { Context } from 'koa'
import { AppError } from '../errors.ts'
import { invalidInput, route, type Route, type RouteContract, type RouteInput } from '../http/contract.ts'
import { z } from 'zod'
import { ADMIN_READ_SCOPE, ADMIN_SCOPE } from './authority.ts'
import { adminError } from './errors.ts'
import { PAGE_MAX } from './shared.ts'

/**
 * The If-Match precondition (RFC 9110 §13.1.1), strong comparison: `*` matches any current
 * representation, else one of the listed tags must be the current one. Returns the tag the
 * service then re-checks against the row it writes (so for PATCH a change in between is also a
 * 412). DELETE checks here only: a change landing between this read and the deletion is lost
 * with the record, which is what the caller asked for.
 */
export function precondition(ctx: Context, current: string): string | undefined {
  const header = ctx.get('if-match').trim()
  if (!header) return undefined
  if (header === '*') return current
  const tags = header.split(',').map((t) => t.trim())
  if (!tags.includes(current))
    throw adminError('precondition_failed', `changed since ${tags.join(', ')} was read (now ${current}); read it again`)
  return current
}
export const json = <T>(v: T) => JSON.parse(JSON.stringify(v)) as T

/**
 * The services' own checks (password policy, oidc-provider's metadata rules) answer
 * `invalid_input` with "field: message" lines; over HTTP they take the one 400 shape of every
 * JSON API (`invalid_request`, `details.fields`), so a client branches on one code.
 */
function asFieldErrors(err: unknown) {
  if (!(err instanceof AppError) || err.code !== 'invalid_input') return err
  const lines = Array.isArray(err.details) ? (err.details as unknown[]).map(String) : [err.message]
  return invalidInput(
    lines.map((line) => {
      const i = line.indexOf(': ')
      return { in: 'body' as const, field: i > 0 ? line.slice(0, i) : '', message: i > 0 ? line.slice(i + 2) : line }
    }),
  )
}
export function adminRoute<const C extends RouteContract>(
  contract: C,
  handle: (input: RouteInput<C>, ctx: Context) => unknown,
): Route<C> {
  return route(contract, async (input, ctx) => {
    try {
      return await handle(input, ctx)
    } catch (err) {
      throw asFieldErrors(err)
    }
  })
}

// ---- contract pieces shared by the admin route files ------------------------------------------
/**
 * `users: true`: the admin console's user token (scope `admin` on a user, issue 12 §3) is accepted
 * here like on routes.ts; the PDP still decides each action for user:ID (authority.ts).
 */
export const adminAuth = { scopes: [ADMIN_SCOPE], management: true, users: true } as const
/** Reads also take `admin:read`, which authority.ts bounds to the `*:read` actions. */
export const adminReadAuth = { scopes: [ADMIN_SCOPE, ADMIN_READ_SCOPE], management: true, users: true } as const
export const adminTags = ['Administration'] as const
export const pageLimit = z
  .string()
  .regex(/^\d{1,4}$/, `a whole number from 1 to ${PAGE_MAX}`)
  .transform(Number)
  .refine((n) => n >= 1 && n <= PAGE_MAX, `a whole number from 1 to ${PAGE_MAX}`)
export const pageQuery = {
  cursor: z.string().max(2100).optional().describe('nextCursor of the previous page'),
  limit: pageLimit.optional().describe(`page size, default 50, at most ${PAGE_MAX}`),
}
export const ifMatchHeader = {
  'If-Match':
    'the ETag read before (RFC 9110 §13.1.1); optional: without it the write is unconditional, with a stale one it is a 412',
}
export const etagHeader = { ETag: 'strong entity tag of the returned representation (RFC 9110 §8.8.3)' }
export const forbiddenDoc = {
  description:
    "the caller's admin roles do not allow this action (error forbidden), or the token lacks the admin scope (insufficient_scope)",
}
export const staleDoc = { description: 'If-Match does not match the current ETag (error precondition_failed)' }
export const date = z.string().describe('ISO 8601 date-time')
/** If-Match checked against the current ETag (412), or undefined when the caller sent none. */
export const ifMatchOf = (ctx: Context, current: string) =>
  ctx.get('if-match') ? precondition(ctx, current) : undefined
