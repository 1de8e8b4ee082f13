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
import { interactionRouter } from './oidc/interactions/router.ts'
import { scopeDescriber } from './oidc/scope-descriptions.ts'
import { federationCallbackRouter, federationInteractions } from './federation/routes.ts'
import Router from '@koa/router'
import { authzRoutes } from './authz/routes.ts'
import { httpMetrics } from './metrics/http.ts'
import { metricsRoutes } from './metrics/routes.ts'
import { auditRoutes } from './audit/routes.ts'
import { adminRoutes } from './admin/routes.ts'
import { adminServices } from './admin/service.ts'
import { reportDeps } from './audit/report-deps.ts'
import { apiKeyRoutes } from './apikeys/routes.ts'
import { ssfRoutes } from './ssf/routes.ts'
import { ssfAdminRoutes } from './ssf/admin-routes.ts'
import { mountRoutes } from './http/contract.ts'
import { apiDocsRouter } from './http/api-docs.ts'
import { accountRouter } from './account/routes.ts'
import { managementIpGuard } from './http/middleware/management-ips.ts'
import { crossSiteFormGuard } from './http/cross-site.ts'
import { providerFormRouter } from './oidc/provider-forms.ts'
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
import { passwordResetRouter } from './account/password-reset.ts'
import { consoleRouter } from './admin/console/routes.ts'
import { consoleService } from './admin/console/service.ts'
import { consoleApi, type Dispatch } from './admin/console/api.ts'
import { consoleSessions } from './admin/console/session.ts'
import { emailVerificationRouter } from './account/email-links.ts'
import { registrationRouter } from './account/registration.ts'

export interface AppOptions {
  isShuttingDown?: () => boolean
  /** the app's own request handler, for the admin console's calls to the admin API (set by buildApp) */
  dispatch?: () => Dispatch
}

/** Our routers, in the order they are tried (before oidc-provider). */
function routersOf(c: Container, opts: AppOptions) {
  const admin = adminServices(c)
  const management = managementIpGuard({
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
  // One guard for every form of our pages: a POST from another site is refused (issue 10 §2).
  const formGuard = crossSiteFormGuard(c.config.PUBLIC_URL, (ctx, reason) => {
    c.logger.warn({ path: ctx.path, reason, requestId: ctx.state.requestId }, 'cross-site form post refused')
  })
  // The JSON APIs, declared as route contracts (http/contract.ts): mounted together and
  // described by one OpenAPI document (/openapi.json).
  const apiRoutes = [
    ...authzRoutes({
      publicUrl: c.config.PUBLIC_URL,
      bearerSchemes: c.bearerSchemes,
      stores: c.authz.stores,
      decide: c.authz.decide,
      management,
    }),
    ...metricsRoutes(c.metrics),
    ...auditRoutes({
      bearerSchemes: c.bearerSchemes,
      chain: c.auditChain,
      record: (e) => c.audit.record(e),
      report: reportDeps(c),
      management,
    }),
    ...apiKeyRoutes({ service: c.apikeys, bearerSchemes: c.bearerSchemes, clientIp: c.clientIp, management }),
    ...adminRoutes({ admin, management }),
    ...ssfRoutes(c.ssf),
    ...ssfAdminRoutes(c.ssf, admin.authority),
  ]
  return [
    healthRouter({ checks: c.readiness, isShuttingDown: opts.isShuttingDown ?? (() => false) }),
    assetsRouter(brandOf(c.config)),
    interactionRouter({
      provider: c.provider,
      users: c.users,
      audit: c.audit,
      csrfKey: deriveKey(c.masterKey.ring.keys.get(c.masterKey.ring.currentId)!, 'csrf'),
      passwordMinLength: c.config.PASSWORD_MIN_LENGTH,
      login: c.login,
      clientIp: c.clientIp,
      formGuard,
      holdings: c.holdings,
      describeScopes: scopeDescriber(() => c.queries.resources.list()),
      federation: federationInteractions({ federation: c.federation, users: c.users, audit: c.audit, login: c.login }),
      verification: c.emailVerification,
      registration: c.registration.options.enabled,
      notices: c.notices,
    }),
    federationCallbackRouter({ audit: c.audit, clientIp: c.clientIp }),
    accountRouter({
      users: c.users,
      audit: c.audit,
      login: c.login,
      clientIp: c.clientIp,
      csrfKey: deriveKey(c.masterKey.ring.keys.get(c.masterKey.ring.currentId)!, 'csrf'),
      passwordMinLength: c.config.PASSWORD_MIN_LENGTH,
      publicUrl: c.config.PUBLIC_URL,
      apikeys: c.apikeys,
      formGuard,
      verification: c.emailVerification,
    }),
    providerFormRouter(formGuard),
    // The admin console (issue 12 §3): pages over the admin API, called through the app itself.
    consoleRouter({
      service: consoleService({
        api: consoleApi({ dispatch: () => opts.dispatch!(), publicUrl: c.config.PUBLIC_URL }),
        sessions: consoleSessions({ redis: c.redis, prefix: c.config.REDIS_PREFIX, db: c.queries.payloads }),
        publicUrl: c.config.PUBLIC_URL,
        requireMfa: c.config.ADMIN_CONSOLE_REQUIRE_MFA,
      }),
      clientIp: c.clientIp,
      formGuard,
      secure: c.config.PUBLIC_URL.startsWith('https:'),
    }),
    mountRoutes(new Router(), apiRoutes, { bearerSchemes: c.bearerSchemes, management }),
    apiDocsRouter({
      routes: apiRoutes,
      info: { title: 'portcullis', version: APP_VERSION, publicUrl: c.config.PUBLIC_URL },
    }),
    passwordResetRouter({ reset: c.passwordReset, product: c.config.PRODUCT_NAME, clientIp: c.clientIp, formGuard }),
    emailVerificationRouter({ verification: c.emailVerification, clientIp: c.clientIp, formGuard }),
    registrationRouter({
      registration: c.registration,
      challenge: c.signupChallenge,
      product: c.config.PRODUCT_NAME,
      clientIp: c.clientIp,
      formGuard,
    }),
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
