import type { Middleware } from 'koa'
import type { Metrics } from './registry.ts'
import type { HttpSurface } from '../http/surface.ts'
import { metricsRoutes } from './routes.ts'

// oidc-provider's endpoints (it routes them itself, so no router template is set for them).
const PROVIDER_ROUTES: [RegExp, string][] = [
  [/^\/\.well-known\/openid-configuration$/, '/.well-known/openid-configuration'],
  [/^\/jwks$/, '/jwks'],
  [/^\/auth(\/[^/]+)?$/, '/auth'],
  [/^\/token$/, '/token'],
  [/^\/token\/introspection$/, '/token/introspection'],
  [/^\/token\/revocation$/, '/token/revocation'],
  [/^\/me$/, '/me'],
  [/^\/session\/end(\/.*)?$/, '/session/end'],
  [/^\/request$/, '/request'],
  [/^\/device\/auth$/, '/device/auth'],
  [/^\/device(\/.*)?$/, '/device'],
  [/^\/reg(\/.*)?$/, '/reg'],
  [/^\/backchannel$/, '/backchannel'],
]

/**
 * The route label: the matched router template (`/authz/v1/stores/:store/check`), else the
 * provider endpoint, else a coarse class by first path segment. Never the raw path, whose ids
 * and typos would make the label set (and Prometheus's memory) unbounded.
 */
export function routeLabel(matched: unknown, path: string, status: number): string {
  if (typeof matched === 'string' && matched) return matched
  for (const [re, name] of PROVIDER_ROUTES) if (re.test(path)) return name
  if (status === 404) return 'unmatched'
  const first = /^\/([a-z0-9-]{1,32})(\/|$)/i.exec(path)?.[1]
  return first ? `/${first.toLowerCase()}/*` : 'other'
}

/** Counts one answered request (also used by the decision fast lane, which bypasses Koa). */
export function recordHttp(m: Metrics, method: string, route: string, status: number, seconds: number) {
  const labels = { method, route, status: String(status) }
  m.httpRequests.inc(labels)
  m.httpDuration.observe(labels, seconds)
}

export function httpMetrics(m: Metrics): Middleware {
  return async (ctx, next) => {
    const started = performance.now()
    const done = (status: number) => {
      recordHttp(
        m,
        ctx.method,
        routeLabel((ctx as { _matchedRoute?: unknown })._matchedRoute, ctx.path, status),
        status,
        (performance.now() - started) / 1000,
      )
    }
    try {
      await next()
    } finally {
      // oidc-provider answers through the raw response (ctx.respond = false): count on finish.
      if (ctx.respond === false) {
        if (ctx.res.writableFinished) done(ctx.res.statusCode)
        else ctx.res.once('finish', () => done(ctx.res.statusCode))
      } else {
        done(ctx.status)
      }
    }
  }
}

/** GET /metrics on the main port (routes.ts); the middleware above is mounted by src/app.ts. */
export function metricsHttp(m: Metrics): HttpSurface {
  return { routes: metricsRoutes(m) }
}
