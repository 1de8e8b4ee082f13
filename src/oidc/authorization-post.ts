import type { IncomingMessage } from 'node:http'
import type Provider from 'oidc-provider'

const MAX_BODY = 56 * 1024 // oidc-provider's own limit for form bodies

/**
 * OIDC Core §3.1.2.1: the authorization endpoint MUST support GET and POST. oidc-provider takes
 * both, but a POST from the relying party's site is a cross-site POST, for which browsers do not
 * send our SameSite=Lax session cookies: the user would have to sign in again every time, and
 * loosening the cookies to SameSite=None would expose every form to cross-site posts.
 * So a form POST to /auth is answered with a 303 to the same request as a GET: a top-level GET
 * navigation carries Lax cookies, and the request is processed exactly as a GET would be
 * (parameters, duplicates and all, are validated there).
 */
export function installAuthorizationPost(provider: Provider) {
  let path: string | undefined
  provider.use(async (ctx, next) => {
    path ??= provider.pathFor('authorization')
    if (ctx.method !== 'POST' || ctx.path !== path || !ctx.is('application/x-www-form-urlencoded')) return next()
    const raw = await readForm(ctx.req)
    if (raw === undefined) {
      ctx.status = 413
      ctx.body = 'request body too large'
      return undefined
    }
    const query = new URLSearchParams(raw).toString()
    ctx.status = 303
    ctx.set('Cache-Control', 'no-store')
    ctx.redirect(`${path}?${query}`)
    return undefined
  })
}

/**
 * The form body, as text (undefined when over the limit). An edge middleware may have read and
 * checked it already and left it on `req.body`, as oidc-provider's own body reader accepts.
 */
async function readForm(req: IncomingMessage & { body?: unknown }): Promise<string | undefined> {
  if (Buffer.isBuffer(req.body) || typeof req.body === 'string') {
    return req.body.length > MAX_BODY ? undefined : req.body.toString()
  }
  if (!req.readable) return ''
  const chunks: Buffer[] = []
  let size = 0
  // iterator(), as oidc-provider reads bodies: the edge hands over a view that replays them
  for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY) return undefined
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}
