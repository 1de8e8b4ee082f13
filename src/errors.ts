import type { HTTP_ERRORS } from './http/errors.ts'
import type { ADMIN_ERRORS } from './admin/errors.ts'
import type { APIKEYS_ERRORS } from './apikeys/errors.ts'
import type { AUDIT_ERRORS } from './audit/errors.ts'
import type { AUTHZ_ERRORS } from './authz/errors.ts'
import type { DB_ERRORS } from './db/errors.ts'
import type { DECLARATIVE_ERRORS } from './declarative/errors.ts'
import type { FEDERATION_ERRORS } from './federation/errors.ts'
import type { IDENTITY_ERRORS } from './identity/errors.ts'
import type { OIDC_ERRORS } from './oidc/errors.ts'
import type { SSF_ERRORS } from './ssf/errors.ts'

/**
 * One entry of an error-code catalogue: the HTTP status the code answers with (`also`: the
 * other statuses a code shared by several edge rules may carry, e.g. `invalid_request`), whether
 * the message is shown to the caller (`expose`; default: only below 500) and one line for the
 * "Error codes" table of docs/api.md (test/platform/error-codes.test.ts keeps the two in step).
 */
export interface ErrorSpec {
  readonly status: number
  readonly also?: readonly number[]
  readonly expose?: boolean
  readonly meaning: string
}
export type ErrorCatalogue = Readonly<Record<string, ErrorSpec>>

/**
 * Codes every feature uses: the generic HTTP answers and the CLI's usage error. A feature's own
 * codes live in its `errors.ts` (`src/<feature>/errors.ts`); each code is in exactly one catalogue.
 */
export const COMMON_ERRORS = {
  invalid_request: {
    status: 400,
    also: [401, 405, 413, 415],
    meaning: 'the request is malformed or a field is invalid (the message names it; `details` lists fields)',
  },
  unauthorized: { status: 401, meaning: 'no (valid) credentials: sign in or send a bearer token' },
  forbidden: { status: 403, meaning: 'the caller may not do this' },
  not_found: { status: 404, meaning: 'no such resource (or not visible to the caller)' },
  csrf: { status: 403, meaning: 'a form was not sent by this site or expired; reload and try again' },
  wrong_step: { status: 400, meaning: 'this sign-in or enrolment step is not active; start again' },
  passkey_rejected: { status: 400, also: [401], meaning: 'the passkey could not be verified or registered' },
  rate_limited: { status: 429, meaning: 'too many requests; `Retry-After` says when to try again' },
  server_error: { status: 500, meaning: 'an unexpected failure; the details are in the server log (request id)' },
  usage: { status: 400, meaning: 'CLI: the command line is not valid (the message shows the usage)' },
} as const satisfies ErrorCatalogue

/** Every catalogue, merged (a type: src/errors.ts imports the feature catalogues as types only). */
type AllErrors = typeof COMMON_ERRORS &
  typeof HTTP_ERRORS &
  typeof ADMIN_ERRORS &
  typeof APIKEYS_ERRORS &
  typeof AUDIT_ERRORS &
  typeof AUTHZ_ERRORS &
  typeof DB_ERRORS &
  typeof DECLARATIVE_ERRORS &
  typeof FEDERATION_ERRORS &
  typeof IDENTITY_ERRORS &
  typeof OIDC_ERRORS &
  typeof SSF_ERRORS

/** Every error code portcullis answers with: the union of the feature catalogues. */
export type ErrorCode = keyof AllErrors & string

/** The statuses a code may carry, from its catalogue entry (distributes over a union of codes). */
export type StatusOf<C extends ErrorCode> = C extends ErrorCode
  ? AllErrors[C]['status'] | (AllErrors[C] extends { also: readonly (infer S)[] } ? S : never)
  : never

/** The codes that may answer with status S (for helpers such as `badRequest`). */
export type CodeWithStatus<S extends number> = { [C in ErrorCode]: S extends StatusOf<C> ? C : never }[ErrorCode]

export interface AppErrorOptions<C extends ErrorCode> {
  status?: StatusOf<C>
  expose?: boolean
  details?: unknown
  cause?: unknown
}

/** The options argument: `status` may be left out only for a code whose catalogue allows 500. */
type OptionsArg<C extends ErrorCode> =
  500 extends StatusOf<C> ? [opts?: AppErrorOptions<C>] : [opts: AppErrorOptions<C> & { status: StatusOf<C> }]

/**
 * The one error type of portcullis: a stable machine `code` from a catalogue, the HTTP `status`
 * it maps to (checked against the catalogue by the compiler), and `expose` — whether `message`
 * may be shown to the caller. 5xx errors are never exposed unless the catalogue says so.
 * `details` is structured data the caller may branch on (field names, lists of problems), so
 * nothing ever needs to parse `message`.
 */
export class AppError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly expose: boolean
  readonly details?: unknown

  constructor(code: C, message: string, ...[options]: OptionsArg<C>) {
    const opts: AppErrorOptions<ErrorCode> = options ?? {}
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = 'AppError'
    this.code = code
    this.status = opts.status ?? 500
    this.expose = opts.expose ?? this.status < 500
    this.details = opts.details
  }
}

export const badRequest = (code: CodeWithStatus<400>, message: string, details?: unknown) =>
  new AppError(code, message, { status: 400, details })
export const unauthorized = (message = 'authentication required') =>
  new AppError('unauthorized', message, { status: 401 })
export const forbidden = (message = 'not allowed') => new AppError('forbidden', message, { status: 403 })
export const notFound = (message = 'not found') => new AppError('not_found', message, { status: 404 })
export const conflict = (code: CodeWithStatus<409>, message: string, details?: unknown) =>
  new AppError(code, message, { status: 409, details })

/** Whether `err` is an AppError with one of these codes (a check on the code, never the message). */
export const hasCode = (err: unknown, ...codes: ErrorCode[]): err is AppError =>
  err instanceof AppError && codes.includes(err.code)

/** Configuration problems stop the process; the message names the variable. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}
