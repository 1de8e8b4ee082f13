import Koa from 'koa'
import type { Container } from './container.ts'
import { deriveKey } from './crypto/envelope.ts'
import { requestContext } from './http/middleware/request.ts'
import { errorHandler } from './http/middleware/errors.ts'
import { securityHeaders } from './http/middleware/security-headers.ts'
import { healthRouter } from './http/health.ts'
import { assetsRouter } from './http/assets.ts'
import { interactionRouter } from './oidc/interactions/router.ts'
import { authzRouter } from './http/authz.ts'
import { httpMetrics } from './metrics/http.ts'
import { metricsRouter } from './metrics/routes.ts'
import { auditRouter } from './audit/routes.ts'
import { reportDeps } from './audit/report-deps.ts'
import { apiKeyRouter } from './apikeys/routes.ts'
import { accountRouter } from './http/account/routes.ts'
import { managementIpGuard } from './http/middleware/management-ips.ts'
import { crossSiteFormGuard } from './http/cross-site.ts'
import { providerFormRouter } from './oidc/provider-forms.ts'
import { passwordResetRouter } from './http/account/password-reset.ts'
import { emailVerificationRouter } from './http/account/email-verification.ts'

export interface AppOptions {
  isShuttingDown?: () => boolean
}

/**
 * The whole HTTP surface as a Koa app: our routers first, then everything else goes to
 * oidc-provider (discovery, authorization, token, ...). Never listens; see server.ts.
 */
export function buildApp(c: Container, opts: AppOptions = {}) {
  const app = new Koa({ proxy: c.config.TRUST_PROXY })
  const management = managementIpGuard({
    allowed: c.config.MANAGEMENT_ALLOWED_IPS,
    clientIp: c.clientIp,
    onDenied: (ctx, ip) => {
      c.logger.warn({ ip, path: ctx.path }, 'management API call from an address outside MANAGEMENT_ALLOWED_IPS')
      void c.audit.record({ action: 'management.ip_denied', outcome: 'failure', details: { method: ctx.method, path: ctx.path }, ip, requestId: ctx.state.requestId as string | undefined })
    },
  })
  // One guard for every form of our pages: a POST from another site is refused (issue 10 §2).
  const formGuard = crossSiteFormGuard(c.config.PUBLIC_URL, (ctx, reason) => {
    c.logger.warn({ path: ctx.path, reason, requestId: ctx.state.requestId }, 'cross-site form post refused')
  })
  const routers = [
    healthRouter({ checks: c.readiness, isShuttingDown: opts.isShuttingDown ?? (() => false) }),
    assetsRouter(),
    interactionRouter({
      provider: c.provider,
      users: c.users,
      audit: c.audit,
      csrfKey: deriveKey(c.masterKey.ring.keys.get(c.masterKey.ring.currentId)!, 'csrf'),
      passwordMinLength: c.config.PASSWORD_MIN_LENGTH,
      login: c.login,
      clientIp: c.clientIp,
      formGuard,
    }),
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
    passwordResetRouter({ reset: c.passwordReset, product: c.config.PRODUCT_NAME, clientIp: c.clientIp, formGuard }),
    emailVerificationRouter({ verification: c.emailVerification, clientIp: c.clientIp, formGuard }),
    authzRouter({ publicUrl: c.config.PUBLIC_URL, bearerSchemes: c.bearerSchemes, stores: c.authz.stores, decide: c.authz.decide, management }),
    metricsRouter(c.metrics, c.bearerSchemes, management),
    auditRouter({
      bearerSchemes: c.bearerSchemes,
      chain: c.auditChain,
      record: (e) => c.audit.record(e),
      report: reportDeps(c),
      management,
    }),
    apiKeyRouter({ service: c.apikeys, bearerSchemes: c.bearerSchemes, clientIp: c.clientIp, management }),
  ]

  app.use(requestContext(c.logger))
  app.use(httpMetrics(c.metrics))
  app.use(securityHeaders({ https: c.config.PUBLIC_URL.startsWith('https:') }))
  app.use(errorHandler(c.logger))
  for (const r of routers) {
    app.use(r.routes())
    app.use(r.allowedMethods())
  }
  // oidc-provider is itself a Koa app; hand it the raw request. Looked up per request so a
  // key rotation can swap in a rebuilt provider without a restart.
  const handlers = new WeakMap<object, ReturnType<Koa['callback']>>()
  app.use(async (ctx) => {
    if (ctx.headerSent || ctx.body !== undefined) return
    const provider = c.provider()
    let handle = handlers.get(provider)
    if (!handle) handlers.set(provider, (handle = provider.callback()))
    ctx.respond = false
    await handle(ctx.req, ctx.res)
  })
  return app
}
