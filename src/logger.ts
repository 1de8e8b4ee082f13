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
