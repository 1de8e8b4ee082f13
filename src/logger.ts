import { pino, type DestinationStream, type Logger } from 'pino'

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
        'password', '*.password', 'client_secret', '*.client_secret', 'secret', '*.secret',
        'token', '*.token', 'authorization', '*.authorization', 'headers.authorization', 'headers.cookie',
        'req.headers.authorization', 'req.headers.cookie', 'access_token', 'refresh_token', 'id_token', 'code',
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
