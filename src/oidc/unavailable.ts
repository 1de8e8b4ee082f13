import type Provider from 'oidc-provider'
import { isDependencyUnavailable, RETRY_AFTER_SECONDS } from '../db/unavailable.ts'
import { explainedErrorPage } from '../views/errors.ts'

/**
 * A database or Redis that is down or frozen gives a 503 with Retry-After on the OAuth/OIDC
 * endpoints too (issue 16 §3), not oidc-provider's 500 `server_error`. oidc-provider catches
 * errors in its per-route handler, renders them and emits `server_error` with the context; this
 * outermost middleware notes which contexts failed that way (or catches what escapes) and
 * rewrites the response. JSON bodies keep the OAuth error shape with the registered code
 * `temporarily_unavailable` (RFC 6749 §4.1.2.1); pages say the same in words.
 */
export function installUnavailableResponses(provider: Provider) {
  const failed = new WeakSet<object>()
  provider.on('server_error', (ctx: object, err: unknown) => {
    if (isDependencyUnavailable(err)) failed.add(ctx)
  })
  provider.use(async (ctx, next) => {
    try {
      await next()
    } catch (err) {
      if (!isDependencyUnavailable(err)) throw err
      failed.add(ctx)
    }
    if (!failed.has(ctx)) return
    ctx.status = 503
    ctx.remove('Location')
    ctx.set('Retry-After', String(RETRY_AFTER_SECONDS))
    ctx.set('Cache-Control', 'no-store')
    const description = 'a service the server depends on is unavailable; try again shortly'
    if (ctx.accepts('json', 'html') === 'html') {
      ctx.type = 'html'
      ctx.body = explainedErrorPage({ status: 503, code: 'temporarily_unavailable', message: description })
    } else {
      ctx.body = { error: 'temporarily_unavailable', error_description: description }
    }
  })
}
