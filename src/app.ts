import { readFileSync } from 'node:fs'
import Koa from 'koa'
import type { Container } from './container.ts'
import { deriveKey } from './crypto/envelope.ts'
import { requestContext } from './http/middleware/request.ts'
import { localeMiddleware } from './http/middleware/locale.ts'
import { brandOf, logoOrigin } from './views/brand.ts'
import { errorHandler } from './http/middleware/errors.ts'
import { securityHeaders } from './http/middleware/security-headers.ts'
import { healthRouter } from './http/health.ts'
import { assetsRouter } from './http/assets.ts'
import { scopeDescriber } from './oidc/scope-descriptions.ts'
import Router from '@koa/router'
import type { Dispatch } from './admin/console/api.ts'
import { httpMetrics, metricsHttp } from './metrics/http.ts'
import { authzHttp } from './authz/http.ts'
import { auditHttp } from './audit/http.ts'
import { apikeysHttp } from './apikeys/http.ts'
import { adminHttp } from './admin/http.ts'
import { ssfHttp } from './ssf/http.ts'
import { oidcHttp } from './oidc/http.ts'
import { federationHttp } from './federation/http.ts'
import { accountHttp } from './account/http.ts'
import { adminServices } from './admin/service.ts'
import { reportDeps } from './audit/report-deps.ts'
import { mountRoutes } from './http/contract.ts'
import { apiDocsRouter } from './http/api-docs.ts'
import { managementIpGuard } from './http/middleware/management-ips.ts'
import { crossSiteFormGuard } from './http/cross-site.ts'
import { rateLimits } from './http/rate-limits.ts'
import { oauthForm, replayedRequest } from './http/oauth-request.ts'
import { shareRequestId } from './http/middleware/request.ts'
import { inputGuard, providerBody } from './http/middleware/input-guard.ts'
import { methodGuard } from './http/middleware/methods.ts'
import { readBytes, readRawBody } from './http/body.ts'
import { logEscapedError } from './logger.ts'
import { requestIdOf } from './http/middleware/request.ts'

const APP_VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version

export interface AppOptions {
  isShuttingDown?: () => boolean
  /** the app's own request handler, for the admin console's calls to the admin API (set by buildApp) */
  dispatch?: () => Dispatch
}

/** MANAGEMENT_ALLOWED_IPS: refused calls are logged and audited. */
function managementGuard(c: Container) {
  return managementIpGuard({
    allowed: c.config.MANAGEMENT_ALLOWED_IPS,
    clientIp: c.clientIp,
    onDenied: (ctx, ip) => {
      c.logger.warn({ ip, path: ctx.path }, 'management API call from an address outside MANAGEMENT_ALLOWED_IPS')
      void c.audit.record({
        action: 'management.ip_denied',
        outcome: 'failure',
        details: { method: ctx.method, path: ctx.path },
        ip,
        requestId: ctx.state.requestId as string | undefined,
      })
    },
  })
}

/** Our routers, in the order they are tried (before oidc-provider). */
function routersOf(c: Container, opts: AppOptions) {
  const admin = adminServices(c)
  const management = managementGuard(c)
  // One guard for every form of our pages: a POST from another site is refused (issue 10 §2).
  const formGuard = crossSiteFormGuard(c.config.PUBLIC_URL, (ctx, reason) => {
    c.logger.warn({ path: ctx.path, reason, requestId: ctx.state.requestId }, 'cross-site form post refused')
  })
  const csrfKey = deriveKey(c.masterKey.ring.keys.get(c.masterKey.ring.currentId)!, 'csrf')
  // Each capability declares its HTTP surface in its http.ts: JSON API route contracts and pages.
  const federation = federationHttp({
    federation: c.federation,
    users: c.users,
    audit: c.audit,
    login: c.login,
    clientIp: c.clientIp,
  })
  const oidc = oidcHttp({
    interactions: {
      provider: c.provider,
      users: c.users,
      audit: c.audit,
      csrfKey,
      passwordMinLength: c.config.PASSWORD_MIN_LENGTH,
      login: c.login,
      clientIp: c.clientIp,
      formGuard,
      holdings: c.holdings,
      describeScopes: scopeDescriber(() => c.queries.resources.list()),
      federation: federation.interactions,
      verification: c.emailVerification,
      registration: c.registration.options.enabled,
      notices: c.notices,
    },
    formGuard,
  })
  const account = accountHttp({
    account: {
      users: c.users,
      audit: c.audit,
      login: c.login,
      clientIp: c.clientIp,
      csrfKey,
      passwordMinLength: c.config.PASSWORD_MIN_LENGTH,
      publicUrl: c.config.PUBLIC_URL,
      apikeys: c.apikeys,
      formGuard,
      verification: c.emailVerification,
    },
    passwordReset: { reset: c.passwordReset, product: c.config.PRODUCT_NAME, clientIp: c.clientIp, formGuard },
    emailLinks: { verification: c.emailVerification, clientIp: c.clientIp, formGuard },
    registration: {
      registration: c.registration,
      challenge: c.signupChallenge,
      product: c.config.PRODUCT_NAME,
      clientIp: c.clientIp,
      formGuard,
    },
  })
  const adminSurface = adminHttp({
    admin,
    management,
    // The admin console (issue 12 §3): pages over the admin API, called through the app itself.
    console: {
      dispatch: () => opts.dispatch!(),
      publicUrl: c.config.PUBLIC_URL,
      redis: c.redis,
      prefix: c.config.REDIS_PREFIX,
      payloads: c.queries.payloads,
      requireMfa: c.config.ADMIN_CONSOLE_REQUIRE_MFA,
      clientIp: c.clientIp,
      formGuard,
    },
  })
  // The JSON APIs, declared as route contracts (http/contract.ts): mounted together and
  // described by one OpenAPI document (/openapi.json), in this order.
  const apiRoutes = [
    authzHttp({
      publicUrl: c.config.PUBLIC_URL,
      bearerSchemes: c.bearerSchemes,
      stores: c.authz.stores,
      decide: c.authz.decide,
      management,
    }),
    metricsHttp(c.metrics),
    auditHttp({
      bearerSchemes: c.bearerSchemes,
      chain: c.auditChain,
      record: (e) => c.audit.record(e),
      report: reportDeps(c),
      management,
    }),
    apikeysHttp({ service: c.apikeys, bearerSchemes: c.bearerSchemes, clientIp: c.clientIp, management }),
    adminSurface,
    ssfHttp({ ssf: c.ssf, authority: admin.authority }),
  ].flatMap((surface) => surface.routes ?? [])
  return [
    healthRouter({ checks: c.readiness, isShuttingDown: opts.isShuttingDown ?? (() => false) }),
    assetsRouter(brandOf(c.config)),
    oidc.pages.interactions,
    federation.pages.callback,
    account.pages.account,
    oidc.pages.forms,
    adminSurface.pages.console,
    mountRoutes(new Router(), apiRoutes, { bearerSchemes: c.bearerSchemes, management }),
    apiDocsRouter({
      routes: apiRoutes,
      info: { title: 'portcullis', version: APP_VERSION, publicUrl: c.config.PUBLIC_URL },
    }),
    account.pages.passwordReset,
    account.pages.emailLinks,
    account.pages.registration,
  ]
}

/**
 * Every route our routers declare (method and path template, e.g. `/authz/v1/stores/:store`),
 * for tools that must cover all of them (the hostile-input property test).
 */
export function declaredRoutes(c: Container): { method: string; path: string }[] {
  return routersOf(c, {}).flatMap((r) =>
    r.stack.flatMap((layer) =>
      layer.methods.filter((m) => m !== 'HEAD').map((method) => ({ method, path: String(layer.path) })),
    ),
  )
}

/**
 * The whole HTTP surface as a Koa app: our routers first, then everything else goes to
 * oidc-provider (discovery, authorization, token, ...). Never listens; see server.ts.
 */
export function buildApp(c: Container, opts: AppOptions = {}) {
  const app = new Koa({ proxy: c.config.TRUST_PROXY })
  let handler: Dispatch | undefined
  const routers = routersOf(c, { ...opts, dispatch: () => (handler ??= app.callback()) })
  app.use(requestContext(c.logger))
  app.use(httpMetrics(c.metrics))
  const brand = brandOf(c.config)
  const logo = logoOrigin(brand, c.config.PUBLIC_URL)
  app.use(securityHeaders({ https: c.config.PUBLIC_URL.startsWith('https:'), imgOrigins: logo ? [logo] : [] }))
  // Before the error handler: error pages, too, are in the request's language and brand.
  app.use(localeMiddleware({ brand, https: c.config.PUBLIC_URL.startsWith('https:') }))
  app.use(errorHandler(c.logger))
  app.use(
    rateLimits({
      limits: c.config.RATE_LIMITS,
      redis: c.redis,
      prefix: c.config.REDIS_PREFIX,
      clientIp: c.clientIp,
      sessionCookie: c.login.cookie.name,
      refused: c.metrics.rateLimited,
      logger: c.logger,
    }),
  )
  // Hostile strings (NUL, invalid UTF-8, lone surrogates) and impossible Host headers are a
  // 400 here, before any router or oidc-provider sees them.
  app.use(inputGuard(readRawBody))
  for (const r of routers) {
    app.use(r.routes())
    app.use(r.allowedMethods())
  }
  // oidc-provider is itself a Koa app; hand it the raw request. Looked up per request so a
  // key rotation can swap in a rebuilt provider without a restart.
  const handlers = new WeakMap<object, ReturnType<Koa['callback']>>()
  app.use(methodGuard(OAUTH_POST_ONLY))
  app.use(async (ctx) => {
    if (ctx.headerSent || ctx.body !== undefined) return
    // RFC 6749 §3.1 duplicate parameters, form content type, body size: see oauth-request.ts.
    // It reads the body once; providerBody checks those same bytes for unstorable text.
    await oauthForm(ctx)
    await providerBody(ctx, readBytes)
    const provider = c.provider()
    let handle = handlers.get(provider)
    if (!handle) handlers.set(provider, (handle = provider.callback()))
    const req = replayedRequest(ctx)
    shareRequestId(ctx.req, req)
    ctx.respond = false
    await handle(req, ctx.res)
  })
  // Errors that escape every middleware (Koa would print a multi-line stack to stderr).
  app.on('error', (err: unknown, ctx?: { req?: Parameters<typeof requestIdOf>[0] }) =>
    logEscapedError(c.logger, err, requestIdOf(ctx?.req)),
  )
  return app
}

/**
 * oidc-provider endpoints that only take POST (RFC 6749 §3.2 token, RFC 7662 §2.1
 * introspection, RFC 7009 §2.1 revocation, RFC 9126 §2 PAR, RFC 8628 §3.1 device
 * authorization, and oidc-provider's logout confirmation form). Other methods are a 405 here;
 * oidc-provider would route GET /device/auth to
 * its device-resume page and fail with a 500.
 */
const OAUTH_POST_ONLY = [
  '/token',
  '/token/introspection',
  '/token/revocation',
  '/request',
  '/device/auth',
  '/session/end/confirm',
]
