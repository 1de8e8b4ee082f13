import type { KoaContextWithOIDC } from 'oidc-provider'
import type { IncomingMessage } from 'node:http'
import type { OidcProvider } from './provider.ts'
import { logEscapedError, type Logger } from '../logger.ts'
import { requestIdOf } from '../http/middleware/request.ts'

/**
 * What oidc-provider does with the errors it does not answer itself, made safe:
 *
 * - An error that escapes its middleware is logged as one JSON line with our request id
 *   (without an 'error' listener, Koa prints a multi-line stack trace to stderr).
 * - A request that fails before its new browser session was first stored (POST /device
 *   without the session cookie, a device-resume URL with a stale or forged cookie) has already
 *   been answered with the right 4xx by oidc-provider's error handler; its session bookkeeping
 *   then tries to re-save a session that was never saved and throws, which Koa turns into a
 *   500. Nothing was stored, so there is nothing to persist: the 4xx stands.
 */
export function hardenProvider(provider: OidcProvider, logger: Logger) {
  // The provider is a Koa application: Koa's own 'error' event (not in oidc-provider's event map).
  ;(provider as unknown as NodeJS.EventEmitter).on('error', (err: unknown, ctx?: { req?: IncomingMessage }) =>
    logEscapedError(logger, err, requestIdOf(ctx?.req)),
  )
  provider.use(async (ctx, next) => {
    try {
      await next()
    } catch (err) {
      if (!unsavedSessionAfterAnswer(ctx as KoaContextWithOIDC, err)) throw err
      logger.debug(
        { err, requestId: requestIdOf(ctx.req) },
        'oidc-provider: not persisting a session that was never stored',
      )
    }
  })
}

function unsavedSessionAfterAnswer(ctx: KoaContextWithOIDC, err: unknown) {
  if (!(err instanceof TypeError) || ctx.status >= 500 || ctx.body == null) return false
  // Only look at ctx.oidc when the provider created it (reading it creates one).
  if (!Object.prototype.hasOwnProperty.call(ctx, 'oidc')) return false
  const session = (ctx.oidc as { entities?: { Session?: { exp?: unknown; touched?: boolean } } }).entities?.Session
  return Boolean(session && session.touched && typeof session.exp !== 'number')
}
