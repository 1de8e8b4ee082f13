import Router from '@koa/router'
import type { Middleware } from 'koa'
import { authenticate, callerOf, requireScope, type BearerScheme, type Caller } from '../http/middleware/authn.ts'
import { badRequest } from '../errors.ts'
import type { AuditChain } from './service.ts'
import { buildReport, reportHtml, type ReportDeps } from './report.ts'

export interface AuditRouteDeps {
  bearerSchemes: readonly BearerScheme[]
  chain: AuditChain
  report: ReportDeps
  /** MANAGEMENT_ALLOWED_IPS guard (http/middleware/management-ips.ts), ahead of authentication. */
  management?: Middleware
  record: (e: { action: string; outcome: 'success'; actor: string; details: Record<string, unknown>; ip?: string; requestId?: string }) => Promise<void>
}

const who = (c: Caller) => (c.kind === 'api_key' ? `apikey:${c.apiKey?.id}` : c.kind === 'client' ? `client:${c.clientId ?? c.id}` : `user:${c.id}`)

/**
 * The audit API (scope audit:read; admin implies it):
 * - GET  /audit/v1/events       filtered, cursor-paged records (newest first)
 * - GET  /audit/v1/verify       chain + checkpoint verification
 * - GET  /audit/v1/report       compliance report (JSON, or HTML with Accept: text/html)
 * - POST /audit/v1/checkpoints  sign a checkpoint of the current tail now (scope admin)
 */
export function auditRouter(deps: AuditRouteDeps) {
  const router = new Router({ prefix: '/audit/v1' })
  if (deps.management) router.use(deps.management)
  router.use(authenticate(deps.bearerSchemes))
  router.use(async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store')
    await next()
  })

  router.get('/events', requireScope('audit:read'), async (ctx) => {
    ctx.body = await deps.chain.query(ctx.query as Record<string, unknown>)
  })

  router.get('/verify', requireScope('audit:read'), async (ctx) => {
    ctx.body = await deps.chain.verify()
  })

  router.get('/report', requireScope('audit:read'), async (ctx) => {
    const raw = ctx.query.days
    const days = raw === undefined ? 30 : Number(raw)
    if (!Number.isInteger(days) || days < 1 || days > 3650) throw badRequest('invalid_request', 'days must be a whole number between 1 and 3650')
    const report = await buildReport(deps.report, { days })
    if (ctx.accepts('json', 'html') === 'html') {
      ctx.type = 'html'
      ctx.body = reportHtml(report)
    } else {
      ctx.body = report
    }
  })

  router.post('/checkpoints', requireScope('admin'), async (ctx) => {
    const cp = await deps.chain.checkpoint('manual')
    if (!cp) throw badRequest('empty_log', 'the audit log is empty: nothing to checkpoint')
    await deps.record({ action: 'audit.checkpoint', outcome: 'success', actor: who(callerOf(ctx)!), details: { seq: cp.seq, kid: cp.kid }, ip: ctx.ip, requestId: ctx.state.requestId as string })
    ctx.status = 201
    ctx.body = { id: cp.id, seq: cp.seq, hash: cp.hash, kid: cp.kid, jws: cp.jws, created_at: cp.createdAt.toISOString() }
  })
  return router
}
