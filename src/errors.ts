/**
 * The one error type of portcullis: a stable machine `code`, the HTTP `status` it maps to, and
 * `expose` — whether `message` may be shown to the caller. 5xx errors are never exposed.
 */
export class AppError extends Error {
  readonly code: string
  readonly status: number
  readonly expose: boolean
  readonly details?: unknown

  constructor(
    code: string,
    message: string,
    opts: { status?: number; expose?: boolean; details?: unknown; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = 'AppError'
    this.code = code
    this.status = opts.status ?? 500
    this.expose = opts.expose ?? this.status < 500
    this.details = opts.details
  }
}

export const badRequest = (code: string, message: string, details?: unknown) =>
  new AppError(code, message, { status: 400, details })
export const unauthorized = (message = 'authentication required') =>
  new AppError('unauthorized', message, { status: 401 })
export const forbidden = (message = 'not allowed') => new AppError('forbidden', message, { status: 403 })
export const notFound = (message = 'not found') => new AppError('not_found', message, { status: 404 })
export const conflict = (code: string, message: string) => new AppError(code, message, { status: 409 })

/** Configuration problems stop the process; the message names the variable. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}
