import type Provider from 'oidc-provider'
import type { KoaContextWithOIDC } from 'oidc-provider'

/**
 * CORS (issue 10): a browser application may call portcullis from the web origins registered for
 * its client, and only where a browser application needs to:
 *
 * | endpoint | who gets CORS headers |
 * |---|---|
 * | discovery, JWKS | any origin: public documents (oidc-provider's default, kept) |
 * | token | public clients (`none`), from their web origins (a confidential client's secret never |
 * |       | belongs in a browser) |
 * | userinfo, revocation | the web origins of the client the token / request belongs to |
 * | introspection, PAR, device authorization | nobody: these are server-to-server |
 *
 * A client's web origins are its `web_origins` metadata, plus, for a public client, the origins
 * of its http(s) redirect URIs (the SPA that receives the code is the one that redeems it).
 * A request from an origin the client has not registered is refused (`invalid_request`, no
 * CORS headers); a preflight gets CORS headers only from an origin some client registered.
 */
export const BROWSER_ROUTES = new Set(['token', 'userinfo', 'revocation'])

/** The web origins a client's metadata allows. */
export function webOriginsOf(metadata: Record<string, unknown>): Set<string> {
  const origins = new Set<string>()
  const explicit = metadata.web_origins
  if (Array.isArray(explicit)) for (const o of explicit) if (typeof o === 'string') origins.add(o)
  if (metadata.token_endpoint_auth_method === 'none' && Array.isArray(metadata.redirect_uris)) {
    for (const uri of metadata.redirect_uris) {
      const url = typeof uri === 'string' ? URL.parse(uri) : null
      if (url && (url.protocol === 'https:' || url.protocol === 'http:')) origins.add(url.origin)
    }
  }
  return origins
}

/** Why a `web_origins` value is not acceptable, or undefined when it is. */
export function webOriginsProblem(value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value) || value.length > 100) return 'web_origins must be a list of at most 100 origins'
  for (const v of value) {
    const url = typeof v === 'string' ? URL.parse(v) : null
    // An origin is scheme://host[:port] exactly as a browser sends it in `Origin`.
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin !== v) {
      return `web_origins: ${JSON.stringify(v)} is not an origin (scheme://host[:port], no path or trailing slash)`
    }
  }
  return undefined
}

interface CorsClient {
  clientAuthMethod?: string
  metadata(): Record<string, unknown>
}

/** oidc-provider's `clientBasedCORS`: called for a request with `Origin` once its client is known. */
export function clientBasedCORS(ctx: KoaContextWithOIDC, origin: string, client: CorsClient): boolean {
  const route = ctx.oidc.route
  if (!BROWSER_ROUTES.has(route)) return false
  if (route === 'token' && client.clientAuthMethod !== 'none') return false
  return webOriginsOf(client.metadata()).has(origin)
}

/**
 * Preflights carry no client, and oidc-provider answers every one with the caller's origin. We
 * answer them first: endpoints without browser use get a preflight without CORS headers, the
 * browser endpoints only for an origin some client registered (`knownOrigins`).
 */
export function installCorsPreflight(provider: Provider, knownOrigins: () => Promise<ReadonlySet<string>>) {
  let paths: { browser: Set<string>; closed: Set<string> } | undefined
  const routes = () =>
    (paths ??= {
      browser: new Set(['token', 'userinfo', 'revocation'].map((r) => provider.pathFor(r))),
      closed: new Set(
        ['introspection', 'pushed_authorization_request', 'device_authorization'].map((r) => provider.pathFor(r)),
      ),
    })
  provider.use(async (ctx, next) => {
    if (ctx.method !== 'OPTIONS' || !ctx.get('Access-Control-Request-Method')) return next()
    const { browser, closed } = routes()
    const origin = ctx.get('Origin')
    if (closed.has(ctx.path) || (browser.has(ctx.path) && !(await knownOrigins()).has(origin))) {
      ctx.vary('Origin')
      ctx.status = 204
      return undefined
    }
    return next()
  })
}
