import type { AuditAction } from '../audit/actions.ts'
import crypto from 'node:crypto'
import { z } from 'zod'
import type { AuditLog } from '../audit/log.ts'
import { ADMIN_ROLES, callerLabel, subjectOf, type AdminAuthority, type AdminCaller } from './authority.ts'
import { adminError } from './errors.ts'
import type { AccessQueries, RoleRequestRow } from './queries/access.ts'
import { decodeCursor, encodeCursor, etagOf, parse, PAGE_MAX } from './shared.ts'

/** The longest a time-bound grant may last (a week): longer needs a standing grant. */
export const MAX_ELEVATION_HOURS = 168

const requestInput = z
  .object({
    role: z.enum(ADMIN_ROLES),
    hours: z.number().int().min(1).max(MAX_ELEVATION_HOURS),
    reason: z
      .string()
      .trim()
      .min(3)
      .max(500)
      .regex(/^[^\0]*$/, 'no NUL characters'),
    subject: z
      .string()
      .regex(/^user:.{1,320}$/, 'user:ID')
      .optional()
      .describe('file the request for this user (needs roles:grant); default: the caller'),
  })
  .strict()
const noteInput = z
  .object({
    note: z
      .string()
      .trim()
      .max(500)
      .regex(/^[^\0]*$/, 'no NUL characters')
      .optional(),
  })
  .strict()
const listInput = z
  .object({
    status: z.enum(['pending', 'approved', 'denied', 'cancelled', 'revoked']).optional(),
    subject: z.string().max(330).optional(),
    cursor: z.string().max(200).optional(),
    limit: z.number().int().min(1).max(PAGE_MAX).optional(),
  })
  .strict()

/** `approved` is shown as `active` or `expired`, read from the clock: expiry needs no sweep. */
export function requestView(r: RoleRequestRow, now = new Date()) {
  const status = r.status === 'approved' ? (r.expiresAt && r.expiresAt > now ? 'active' : 'expired') : r.status
  return {
    id: r.id,
    subject: r.subject,
    role: r.role,
    hours: r.hours,
    reason: r.reason,
    status,
    requestedBy: r.requestedBy,
    decidedBy: r.decidedBy,
    decidedAt: r.decidedAt,
    decisionNote: r.decisionNote,
    startsAt: r.startsAt,
    expiresAt: r.expiresAt,
    createdAt: r.createdAt,
    etag: etagOf([r.id, r.status, r.decidedBy, r.expiresAt?.toISOString() ?? null, r.updatedAt.toISOString()]),
  }
}

/** The subject a caller acts as: a user, or the user or client that owns the API key. */
export const actingSubject = (c: AdminCaller) =>
  c.kind === 'cli' ? 'cli' : c.kind === 'api_key' ? subjectOf(c.owner) : `${c.kind}:${c.id}`

/**
 * Roles a subject holds now through approved time-bound grants. Expired grants found on the way
 * are audited once (claimExpiry: one instance wins) — the decision itself never depends on that.
 */
export function elevatedRoles(q: AccessQueries, audit: AuditLog) {
  async function auditExpired(subject?: string) {
    for (const r of await q.expiredUnaudited(new Date(), subject)) {
      if (await q.claimExpiry(r.id)) {
        await audit.record({
          action: 'admin.role_elevation_expired',
          outcome: 'info',
          actor: 'system',
          target: r.subject,
          details: { request: r.id, role: r.role, expires_at: r.expiresAt?.toISOString() },
        })
      }
    }
  }
  return {
    auditExpired,
    async of(subject: string) {
      void auditExpired(subject).catch(() => {
        /* audited by the next reader */
      })
      return (await q.activeFor(subject, new Date())).map((r) => r.role)
    },
  }
}

type ElevationDeps = {
  q: AccessQueries
  audit: AuditLog
  authority: AdminAuthority
  auditExpired: () => Promise<void>
}

/** A change's audit record, for `audit.with` (committed with the change, db/audited.ts). */
const record = (caller: AdminCaller, action: AuditAction, r: RoleRequestRow, details: Record<string, unknown>) => ({
  action,
  outcome: 'success' as const,
  actor: callerLabel(caller),
  target: r.subject,
  details: { request: r.id, role: r.role, ...details },
})

async function findRequest(q: AccessQueries, id: string) {
  const r = await q.findRequest(id)
  if (!r) throw adminError('not_found', `no role request ${id}`)
  return r
}

/** Moves a request from one status to the next, with its audit record (one compare-and-set). */
async function transition(
  deps: ElevationDeps,
  caller: AdminCaller,
  id: string,
  from: string,
  to: string,
  action: AuditAction,
  extra: Partial<RoleRequestRow>,
  note?: string,
  ifMatch?: string,
) {
  const r = await findRequest(deps.q, id)
  if (ifMatch !== undefined && ifMatch !== requestView(r).etag)
    throw adminError('precondition_failed', `role request ${id} changed since ${ifMatch} was read`)
  if (r.status !== from || (from === 'approved' && r.expiresAt && r.expiresAt <= new Date()))
    throw adminError(
      'invalid_state',
      `role request ${id} is ${requestView(r).status}, not ${from === 'approved' ? 'active' : from}`,
    )
  const now = new Date()
  const data = { status: to, decidedBy: callerLabel(caller), decidedAt: now, decisionNote: note ?? null, ...extra }
  const after = await deps.q.decideAudited(
    id,
    from,
    data,
    deps.audit.with(
      (a) =>
        a &&
        record(caller, action, a, {
          before: { status: requestView(r, now).status },
          after: { status: requestView(a, now).status, expires_at: a.expiresAt?.toISOString() ?? null },
          note: note ?? null,
        }),
    ),
  )
  if (!after) throw adminError('invalid_state', `role request ${id} was decided meanwhile; read it again`)
  return requestView(after)
}

/**
 * A user asks for a role for themselves; a holder of roles:grant may file it for a user (a
 * helpdesk ticket), and then neither of them can approve it.
 */
async function fileRequest(
  deps: ElevationDeps,
  caller: AdminCaller,
  input: unknown,
  userIdOf: (ref: string) => Promise<string | null>,
) {
  const { q, authority } = deps
  const v = parse(requestInput, input)
  let subject = actingSubject(caller)
  if (v.subject) {
    await authority.require(caller, 'roles:grant')
    const id = await userIdOf(v.subject.slice(5))
    if (!id) throw adminError('not_found', `no user ${v.subject.slice(5)}`)
    subject = `user:${id}`
  }
  if (!subject.startsWith('user:'))
    throw adminError(
      'forbidden',
      "only a user (or a user's API key) asks for a time-bound role; an administrator may file one for a user (subject)",
    )
  const open = await q.listRequests({ subject, status: 'pending' }, undefined, 100)
  if (open.some((r) => r.role === v.role))
    throw adminError('invalid_state', `a request for ${v.role} is already waiting for approval`)
  const r = await q.createRequest(
    {
      id: crypto.randomUUID(),
      subject,
      role: v.role,
      hours: v.hours,
      reason: v.reason,
      status: 'pending',
      requestedBy: callerLabel(caller),
    },
    deps.audit.with((row) =>
      record(caller, 'admin.role_requested', row, {
        hours: v.hours,
        reason: v.reason,
        before: { status: null },
        after: { status: 'pending' },
      }),
    ),
  )
  return requestView(r)
}

/**
 * Just-in-time admin roles (issue 12 §5): a user asks for a role for some hours with a reason;
 * another administrator (holding `roles:grant`, never the requester) approves; the grant holds
 * from approval for that many hours and then simply stops (authority.ts reads it per decision).
 */
export function adminElevation(deps: ElevationDeps) {
  const { q, authority } = deps
  const find = (id: string) => findRequest(q, id)
  /** Who may read a request: holders of roles:read, and the subject it is for. */
  async function readable(caller: AdminCaller, r: RoleRequestRow) {
    if (actingSubject(caller) === r.subject) return
    await authority.require(caller, 'roles:read')
  }

  return {
    find,
    view: requestView,

    request: (caller: AdminCaller, input: unknown, userIdOf: (ref: string) => Promise<string | null>) =>
      fileRequest(deps, caller, input, userIdOf),

    async read(caller: AdminCaller, id: string) {
      const r = await find(id)
      await readable(caller, r)
      return requestView(r)
    },

    /** Holders of roles:read see every request; anyone else only their own. */
    async list(caller: AdminCaller, input: unknown = {}) {
      const v = parse(listInput, input)
      const all = await authority.may(caller, 'roles:read')
      const subject = all ? v.subject : actingSubject(caller)
      void deps.auditExpired().catch(() => {})
      const limit = v.limit ?? 50
      const rows = await q.listRequests({ status: v.status, subject }, decodeCursor(v.cursor), limit + 1)
      const page = rows.slice(0, limit)
      const last = page.at(-1)
      return {
        items: page.map((r) => requestView(r)),
        ...(rows.length > limit && last ? { nextCursor: encodeCursor(last) } : {}),
      }
    },

    async approve(caller: AdminCaller, id: string, input: unknown = {}, ifMatch?: string) {
      await authority.require(caller, 'roles:grant')
      const { note } = parse(noteInput, input)
      const r = await find(id)
      if (actingSubject(caller) === r.subject || callerLabel(caller) === r.requestedBy) {
        throw adminError(
          'self_approval',
          'a time-bound role is approved by another administrator: not the user it is for, nor the one who filed it',
        )
      }
      const now = new Date()
      return transition(
        deps,
        caller,
        id,
        'pending',
        'approved',
        'admin.role_request_approved',
        { startsAt: now, expiresAt: new Date(now.getTime() + r.hours * 3_600_000) },
        note,
        ifMatch,
      )
    },

    async deny(caller: AdminCaller, id: string, input: unknown = {}, ifMatch?: string) {
      await authority.require(caller, 'roles:grant')
      const { note } = parse(noteInput, input)
      return transition(deps, caller, id, 'pending', 'denied', 'admin.role_request_denied', {}, note, ifMatch)
    },

    /** The user it is for (or whoever filed it) withdraws a request nobody decided yet. */
    async cancel(caller: AdminCaller, id: string) {
      const r = await find(id)
      if (actingSubject(caller) !== r.subject && callerLabel(caller) !== r.requestedBy) {
        await authority.require(caller, 'roles:read')
        throw adminError(
          'forbidden',
          'only the user it is for, or who filed it, cancels a request; an approver denies it',
        )
      }
      return transition(deps, caller, id, 'pending', 'cancelled', 'admin.role_request_cancelled', {})
    },

    /** Ends an active grant before its expiry. */
    async revoke(caller: AdminCaller, id: string, input: unknown = {}, ifMatch?: string) {
      await authority.require(caller, 'roles:grant')
      const { note } = parse(noteInput, input)
      return transition(
        deps,
        caller,
        id,
        'approved',
        'revoked',
        'admin.role_elevation_revoked',
        { expiresAt: new Date() },
        note,
        ifMatch,
      )
    },

    /** Every grant in force (for access reviews and containment). */
    active: () => q.activeAll(new Date()),
  }
}
export type AdminElevation = ReturnType<typeof adminElevation>
