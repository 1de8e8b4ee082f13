import type { AuditAction } from './actions.ts'
import Router from '@koa/router'
import type { Middleware } from 'koa'
import { z } from 'zod'
import type { BearerScheme, Caller } from '../http/middleware/authn.ts'
import { defineRoute, mountRoutes, route, type Route } from '../http/contract.ts'
import { badRequest } from '../errors.ts'
import type { AuditChain } from './service.ts'
import { eventQuery } from './export.ts'
import { buildReport, reportHtml, type ReportDeps } from './report.ts'

export interface AuditRouteDeps {
  bearerSchemes: readonly BearerScheme[]
  chain: AuditChain
  report: ReportDeps
  /** MANAGEMENT_ALLOWED_IPS guard (http/middleware/management-ips.ts), ahead of authentication. */
  management?: Middleware
  record: (e: {
    action: AuditAction
    outcome: 'success'
    actor: string
    details: Record<string, unknown>
    ip?: string
    requestId?: string
  }) => Promise<void>
}

const who = (c: Caller) =>
  c.kind === 'api_key'
    ? `apikey:${c.apiKey?.id}`
    : c.kind === 'client'
      ? `client:${c.clientId ?? c.id}`
      : `user:${c.id}`

const read = { scopes: ['audit:read'], management: true } as const
const event = z.object({
  seq: z.number().int(),
  time: z.iso.datetime(),
  actor: z.string().nullable(),
  action: z.string(),
  target: z.string().nullable(),
  outcome: z.enum(['success', 'failure', 'info']),
  ip: z.string().nullable(),
  user_agent: z.string().nullable(),
  request_id: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
  prev_hash: z.string(),
  hash: z.string(),
})
const verifyResult = z.object({
  ok: z.boolean(),
  records: z.number().int(),
  firstSeq: z.number().int().nullable(),
  lastSeq: z.number().int().nullable(),
  lastHash: z.string().nullable(),
  anchor: z.object({ seq: z.number().int(), kind: z.string() }),
  checkpoints: z.object({
    total: z.number().int(),
    valid: z.number().int(),
    latest: z
      .object({ seq: z.number().int(), kind: z.string(), kid: z.string(), signedAt: z.iso.datetime() })
      .nullable(),
  }),
  problems: z.array(z.object({ kind: z.string(), seq: z.number().int().nullable(), message: z.string() })),
  verifiedAt: z.iso.datetime(),
})
const days = z
  .string({ error: 'must be a whole number between 1 and 3650' })
  .refine(
    (v) => Number.isInteger(Number(v)) && Number(v) >= 1 && Number(v) <= 3650,
    'must be a whole number between 1 and 3650',
  )
  .transform(Number)

export const auditContracts = {
  events: defineRoute({
    operationId: 'listAuditEvents',
    method: 'get',
    path: '/audit/v1/events',
    tags: ['Audit'],
    auth: read,
    noStore: true,
    summary: 'Audit records, filtered and cursor-paged (newest first unless order=asc)',
    query: eventQuery,
    responses: {
      200: { description: 'one page', body: z.object({ events: z.array(event), next_cursor: z.string().nullable() }) },
    },
  }),
  verify: defineRoute({
    operationId: 'verifyAuditChain',
    method: 'get',
    path: '/audit/v1/verify',
    tags: ['Audit'],
    auth: read,
    noStore: true,
    summary: 'Verify the hash chain and its signed checkpoints',
    responses: { 200: { description: 'the verification result (ok: false lists the problems)', body: verifyResult } },
  }),
  report: defineRoute({
    operationId: 'complianceReport',
    method: 'get',
    path: '/audit/v1/report',
    tags: ['Audit'],
    auth: read,
    noStore: true,
    summary: 'Compliance report (JSON, or HTML with Accept: text/html)',
    query: z.object({ days: days.optional().describe('the period, default 30') }),
    responses: { 200: { description: 'the report', body: z.record(z.string(), z.unknown()), media: ['text/html'] } },
  }),
  checkpoint: defineRoute({
    operationId: 'createAuditCheckpoint',
    method: 'post',
    path: '/audit/v1/checkpoints',
    tags: ['Audit'],
    auth: { scopes: ['admin'], management: true },
    noStore: true,
    summary: 'Sign a checkpoint of the current tail now',
    responses: {
      201: {
        description: 'the signed checkpoint',
        body: z.object({
          id: z.number().int(),
          seq: z.number().int(),
          hash: z.string(),
          kid: z.string(),
          jws: z.string(),
          created_at: z.iso.datetime(),
        }),
      },
      400: { description: 'the audit log is empty (error empty_log)' },
    },
  }),
}

/**
 * The audit API (scope audit:read; admin implies it):
 * - GET  /audit/v1/events       filtered, cursor-paged records (newest first)
 * - GET  /audit/v1/verify       chain + checkpoint verification
 * - GET  /audit/v1/report       compliance report (JSON, or HTML with Accept: text/html)
 * - POST /audit/v1/checkpoints  sign a checkpoint of the current tail now (scope admin)
 */
export function auditRoutes(deps: AuditRouteDeps): Route[] {
  const c = auditContracts
  return [
    // The service parses the raw query itself (the CLI's export uses it too); the contract has
    // already refused a bad one with every bad field listed.
    route(c.events, (_input, ctx) => deps.chain.query(ctx.query as Record<string, unknown>)),
    route(c.verify, () => deps.chain.verify()),
    route(c.report, async ({ query }, ctx) => {
      const report = await buildReport(deps.report, { days: query.days ?? 30 })
      if (ctx.accepts('json', 'html') === 'html') {
        ctx.type = 'html'
        return reportHtml(report)
      }
      return report
    }),
    route(c.checkpoint, async ({ caller }, ctx) => {
      const cp = await deps.chain.checkpoint('manual')
      if (!cp) throw badRequest('empty_log', 'the audit log is empty: nothing to checkpoint')
      await deps.record({
        action: 'audit.checkpoint',
        outcome: 'success',
        actor: who(caller),
        details: { seq: cp.seq, kid: cp.kid },
        ip: ctx.ip,
        requestId: ctx.state.requestId as string,
      })
      return { id: cp.id, seq: cp.seq, hash: cp.hash, kid: cp.kid, jws: cp.jws, created_at: cp.createdAt.toISOString() }
    }),
  ]
}

export function auditRouter(deps: AuditRouteDeps) {
  return mountRoutes(new Router(), auditRoutes(deps), {
    bearerSchemes: deps.bearerSchemes,
    management: deps.management,
  })
}
