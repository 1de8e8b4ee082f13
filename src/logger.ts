import { pino, type DestinationStream, type Logger } from 'pino'

/**
 * Field names that carry a credential wherever they appear in a logged object (top level or one
 * level down): passwords, client secrets and assertions, OAuth tokens and codes (RFC 6749, RFC
 * 7636 code_verifier, RFC 8693 subject/actor tokens), API keys and their signing secrets, TOTP
 * secrets and one-time codes, reset and verification tokens, CSRF tokens. (The authorization
 * `code` is redacted at the top level only; see createLogger.)
 */
export const SECRET_FIELDS = [
  'password',
  'new_password',
  'confirm_password',
  'current_password',
  'passwordHash',
  'password_hash',
  'client_secret',
  'clientSecret',
  'client_assertion',
  'secret',
  'signing_secret',
  'signingSecret',
  'totp_secret',
  'totpSecret',
  'token',
  'access_token',
  'refresh_token',
  'id_token',
  'subject_token',
  'actor_token',
  'device_code',
  'user_code',
  'code_verifier',
  'otp',
  'recovery_code',
  'api_key',
  'apiKey',
  'csrf',
  'authorization',
  'cookie',
] as const

/**
 * JSON logs. Anything that could carry a credential is redacted by path, and request logs
 * carry only method, path (never the query string: codes and tokens travel there) and status.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'portcullis' },
    redact: {
      paths: [
        ...SECRET_FIELDS.flatMap((f) => [f, `*.${f}`]),
        // An authorization code at the top level only: `err.code` (ECONNRESET, P2002) stays readable.
        'code',
        'headers.cookie',
        'headers["set-cookie"]',
        'headers["proxy-authorization"]',
        'headers["x-api-key"]',
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers["proxy-authorization"]',
        'req.headers["x-api-key"]',
      ],
      censor: '[redacted]',
    },
  }
  return destination ? pino(options, destination) : pino(options)
}
export type { Logger }

/**
 * An error nothing else handled, as one JSON line (pino's `err`: type, message, stack as a
 * string) with the request id when there was a request. Client errors that Koa marks as
 * exposable (4xx) are not failures of ours and go out at debug.
 */
export function logEscapedError(logger: Logger, err: unknown, requestId?: string) {
  const e = err as { status?: number; statusCode?: number; expose?: boolean; code?: string }
  const status = e?.status ?? e?.statusCode
  if ((status !== undefined && status < 500) || e?.expose || e?.code === 'ECONNRESET' || e?.code === 'EPIPE') {
    logger.debug({ err, requestId }, 'request ended with a client error')
    return
  }
  logger.error({ err, requestId }, 'unhandled error')
}

/**
 * Process-level handlers, so that nothing reaches stderr as a plain multi-line stack trace:
 * an uncaught exception is logged (fatal) and the process exits, as Node would; an unhandled
 * rejection is logged and the server keeps serving (every request path handles its own).
 */
export function installProcessHandlers(logger: Logger) {
  process.on('uncaughtException', (err) => {
    logger.fatal({ err }, 'uncaught exception; exiting')
    process.exit(1)
  })
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'unhandled promise rejection')
  })
}
