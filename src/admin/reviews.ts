import crypto from 'node:crypto'
import { z } from 'zod'
import type { AdminDeps } from './deps.ts'
import { keyStatus } from '../apikeys/service.ts'
import { isManagementScope, MANAGEMENT_SCOPES } from '../oidc/api-resource.ts'
import { effectiveClientScope } from '../oidc/client-scopes.ts'
import { API_SCOPE_ROLES } from '../oidc/holdings.ts'
import { callerLabel, SYSTEM_STORE, type AdminAuthority, type AdminCaller } from './authority.ts'
import type { AdminElevation } from './elevation.ts'
import { adminError } from './errors.ts'
import type { AccessQueries, ReviewItemRow, ReviewRow } from './queries/access.ts'
import { decodeCursor, encodeCursor, etagOf, parse, PAGE_MAX } from './shared.ts'

const createInput = z
  .object({
    name: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .regex(/^[^\0]*$/, 'no NUL characters'),
  })
  .strict()
const decideInput = z
  .object({
    decision: z.enum(['confirm', 'revoke']),
    note: z
      .string()
      .trim()
      .max(500)
      .regex(/^[^\0]*$/, 'no NUL characters')
      .optional(),
  })
  .strict()
const paging = { cursor: z.string().max(200).optional(), limit: z.number().int().min(1).max(PAGE_MAX).optional() }

type NewItem = Omit<
  ReviewItemRow,
  'createdAt' | 'updatedAt' | 'decision' | 'decidedBy' | 'decidedAt' | 'note' | 'reviewId'
>
const itemView = (i: ReviewItemRow) => ({
  id: i.id,
  kind: i.kind,
  subject: i.subject,
  entitlement: i.entitlement,
  lastUsedAt: i.lastUsedAt,
  detail: JSON.parse(i.detail) as Record<string, unknown>,
  decision: i.decision,
  decidedBy: i.decidedBy,
  decidedAt: i.decidedAt,
  note: i.note,
  etag: etagOf([i.id, i.decision, i.updatedAt.toISOString()]),
})
const reviewView = (r: ReviewRow, counts: Record<string, number>) => ({
  id: r.id,
  name: r.name,
  status: r.status,
  createdBy: r.createdBy,
  createdAt: r.createdAt,
  completedBy: r.completedBy,
  completedAt: r.completedAt,
  counts: { pending: counts.pending ?? 0, confirmed: counts.confirmed ?? 0, revoked: counts.revoked ?? 0 },
})

type ReviewDeps = {
  q: AccessQueries
  authority: AdminAuthority
  elevation: AdminElevation
  users: { update: (caller: AdminCaller, ref: string, input: unknown) => Promise<unknown> }
  clients: { update: (caller: AdminCaller, id: string, input: unknown) => Promise<unknown> }
}

/** One item per holding, with its last use. */
async function snapshot(c: AdminDeps, elevation: AdminElevation, reviewId: string): Promise<NewItem[]> {
  const items: NewItem[] = []
  const add = (
    kind: string,
    subject: string,
    entitlement: string,
    lastUsedAt: Date | null,
    detail: Record<string, unknown>,
  ) =>
    items.push({
      id: `${reviewId}-${String(items.length).padStart(6, '0')}`,
      kind,
      subject,
      entitlement,
      lastUsedAt,
      detail: JSON.stringify(detail),
    })
  const users = new Map((await c.queries.users.list()).map((u) => [u.id, u]))
  const lastLogin = (subject: string) =>
    subject.startsWith('user:') ? (users.get(subject.slice(5))?.lastLoginAt ?? null) : null
  const store = await c.authz.stores.current(SYSTEM_STORE).catch(() => undefined)
  for (const l of store?.lines.filter((x) => x[0] === 'g') ?? [])
    add('admin_role', l[1]!, l[2]!, lastLogin(l[1]!), { email: users.get(l[1]!.slice(5))?.email ?? null })
  for (const r of await elevation.active())
    add('elevated_role', r.subject, r.role, lastLogin(r.subject), {
      request: r.id,
      expires_at: r.expiresAt?.toISOString() ?? null,
      reason: r.reason,
    })
  const managementRoles = new Set(MANAGEMENT_SCOPES.flatMap((s) => API_SCOPE_ROLES[s]))
  for (const u of users.values()) {
    for (const role of u.roles.filter((r) => managementRoles.has(r))) {
      add('management_scope', `user:${u.id}`, `role:${role}`, u.lastLoginAt, {
        email: u.email,
        scopes: MANAGEMENT_SCOPES.filter((s) => API_SCOPE_ROLES[s].includes(role)),
      })
    }
  }
  for (const cl of await c.queries.clients.list()) {
    for (const s of effectiveClientScope(cl.metadata).split(' ').filter(isManagementScope))
      add('management_scope', `client:${cl.clientId}`, `scope:${s}`, null, {})
  }
  for (const k of await c.apikeys.list()) {
    const status = keyStatus(k)
    if (status === 'revoked' || status === 'expired') continue
    add('api_key', `${k.ownerType}:${k.ownerId}`, k.id, k.lastUsedAt, {
      name: k.name,
      scopes: k.scopes,
      status,
      expires_at: k.expiresAt.toISOString(),
      use_count: k.useCount,
    })
  }
  return items
}

/** Carries out a revoke decision through the same services (and rules, e.g. last_admin) as the API. */
async function enforce(
  c: AdminDeps,
  deps: ReviewDeps,
  caller: AdminCaller,
  i: ReviewItemRow,
  note: string | undefined,
) {
  const [type, ...rest] = i.subject.split(':')
  const owner = { type: type as 'user' | 'client', id: rest.join(':') }
  const reason = `access review: ${note ?? 'revoked'}`
  if (i.kind === 'admin_role') {
    await deps.authority.revoke(caller, owner, i.entitlement, reason)
    return
  }
  if (i.kind === 'elevated_role') {
    const requestId = String((JSON.parse(i.detail) as { request?: string }).request)
    const r = await deps.elevation.find(requestId)
    if (r.status === 'approved' && r.expiresAt && r.expiresAt > new Date())
      await deps.elevation.revoke(caller, requestId, { note: reason.slice(0, 500) })
    return
  }
  if (i.kind === 'api_key') {
    await deps.authority.require(caller, 'apikeys:write')
    await c.apikeys.revoke(i.entitlement, { label: callerLabel(caller), isAdmin: true })
    return
  }
  const [what, name] = [
    i.entitlement.slice(0, i.entitlement.indexOf(':')),
    i.entitlement.slice(i.entitlement.indexOf(':') + 1),
  ]
  if (what === 'role') {
    const u = await c.users.findById(owner.id)
    if (u) await deps.users.update(caller, u.id, { roles: u.roles.filter((r) => r !== name) })
    return
  }
  const cl = await c.clients.find(owner.id)
  if (cl)
    await deps.clients.update(caller, cl.clientId, {
      scope: effectiveClientScope(cl.metadata)
        .split(' ')
        .filter((s) => s && s !== name)
        .join(' '),
    })
}

async function findReviewIn(q: ReviewDeps['q'], id: string) {
  const r = await q.findReview(id)
  if (!r) throw adminError('not_found', `no access review ${id}`)
  return r
}

/** A reviewer confirms or revokes one item; a revoke takes effect before the decision is recorded. */
async function decideItem(
  c: AdminDeps,
  deps: ReviewDeps,
  caller: AdminCaller,
  id: string,
  itemId: string,
  input: unknown,
  ifMatch?: string,
) {
  const { q, authority } = deps
  await authority.require(caller, 'roles:grant')
  const v = parse(decideInput, input)
  const r = await findReviewIn(q, id)
  if (r.status !== 'open') throw adminError('invalid_state', `access review ${id} is ${r.status}`)
  const i = await q.findItem(id, itemId)
  if (!i) throw adminError('not_found', `access review ${id} has no item ${itemId}`)
  if (ifMatch !== undefined && ifMatch !== itemView(i).etag)
    throw adminError('precondition_failed', `item ${itemId} was decided since ${ifMatch} was read`)
  if (i.decision !== 'pending') throw adminError('invalid_state', `item ${itemId} is already ${i.decision}`)
  if (v.decision === 'revoke') await enforce(c, deps, caller, i, v.note)
  const decision = v.decision === 'confirm' ? 'confirmed' : 'revoked'
  const record = {
    action: `access_review.${decision}` as const,
    outcome: 'success' as const,
    actor: callerLabel(caller),
    target: i.subject,
    details: {
      review: id,
      item: itemId,
      kind: i.kind,
      entitlement: i.entitlement,
      note: v.note ?? null,
      before: { decision: 'pending' },
      after: { decision },
    },
  }
  if (
    !(await q.decideItem(
      id,
      itemId,
      i.updatedAt,
      { decision, decidedBy: callerLabel(caller), decidedAt: new Date(), note: v.note ?? null },
      c.audit.with((done) => (done ? record : null)),
    ))
  ) {
    throw adminError('precondition_failed', `item ${itemId} was decided meanwhile; read it again`)
  }
  return itemView((await q.findItem(id, itemId))!)
}

/**
 * Access review campaigns (issue 12 §5): a snapshot of every admin role grant (standing and
 * time-bound), every user role and client that carries a management scope, and every live API
 * key with its last use; a reviewer confirms or revokes each (a revoke takes effect at once,
 * through the same services as the admin API), and completing the campaign writes its outcome
 * to the audit log, where the compliance report finds it (audit/report.ts `access_reviews`).
 */
export function adminReviews(c: AdminDeps, deps: ReviewDeps) {
  const { q, authority } = deps
  const findReview = (id: string) => findReviewIn(q, id)

  return {
    async create(caller: AdminCaller, input: unknown) {
      await authority.require(caller, 'roles:grant')
      const { name } = parse(createInput, input)
      const id = crypto.randomUUID()
      const items = await snapshot(c, deps.elevation, id)
      await q.createReview(
        { id, name, status: 'open', createdBy: callerLabel(caller) },
        items,
        c.audit.with(() => ({
          action: 'access_review.started',
          outcome: 'success',
          actor: callerLabel(caller),
          target: `access-review:${id}`,
          details: { name, items: items.length },
        })),
      )
      return reviewView((await q.findReview(id))!, await q.countItems(id))
    },
    async list(caller: AdminCaller, input: unknown = {}) {
      await authority.require(caller, 'roles:read')
      const v = parse(z.object(paging).strict(), input)
      const limit = v.limit ?? 50
      const rows = await q.listReviews(decodeCursor(v.cursor), limit + 1)
      const items = await Promise.all(rows.slice(0, limit).map(async (r) => reviewView(r, await q.countItems(r.id))))
      const last = rows.slice(0, limit).at(-1)
      return { items, ...(rows.length > limit && last ? { nextCursor: encodeCursor(last) } : {}) }
    },
    async read(caller: AdminCaller, id: string) {
      await authority.require(caller, 'roles:read')
      return reviewView(await findReview(id), await q.countItems(id))
    },
    async items(caller: AdminCaller, id: string, input: unknown = {}) {
      await authority.require(caller, 'roles:read')
      const v = parse(
        z.object({ decision: z.enum(['pending', 'confirmed', 'revoked']).optional(), ...paging }).strict(),
        input,
      )
      await findReview(id)
      const limit = v.limit ?? 50
      const after = v.cursor === undefined ? undefined : Buffer.from(v.cursor, 'base64url').toString('utf8')
      const rows = await q.reviewItems(id, { decision: v.decision }, after, limit + 1)
      const page = rows.slice(0, limit)
      return {
        items: page.map(itemView),
        ...(rows.length > limit ? { nextCursor: Buffer.from(page.at(-1)!.id).toString('base64url') } : {}),
      }
    },
    async item(caller: AdminCaller, id: string, itemId: string) {
      await authority.require(caller, 'roles:read')
      const i = await q.findItem(id, itemId)
      if (!i) throw adminError('not_found', `access review ${id} has no item ${itemId}`)
      return itemView(i)
    },
    decide: (caller: AdminCaller, id: string, itemId: string, input: unknown, ifMatch?: string) =>
      decideItem(c, deps, caller, id, itemId, input, ifMatch),
    /**
     * Closes the campaign once every item is decided; its outcome goes to the audit log (and so the compliance
     * report).
     */
    async complete(caller: AdminCaller, id: string) {
      await authority.require(caller, 'roles:grant')
      const r = await findReview(id)
      const counts = await q.countItems(id)
      if (r.status !== 'open') throw adminError('invalid_state', `access review ${id} is ${r.status}`)
      if (counts.pending) throw adminError('invalid_state', `${counts.pending} item(s) are still pending a decision`)
      const decided = await q.reviewItems(id, {}, undefined, 10_000)
      const record = {
        action: 'access_review.completed' as const,
        outcome: 'success' as const,
        actor: callerLabel(caller),
        target: `access-review:${id}`,
        details: {
          name: r.name,
          started_by: r.createdBy,
          started_at: r.createdAt.toISOString(),
          confirmed: counts.confirmed ?? 0,
          revoked: counts.revoked ?? 0,
          revocations: decided
            .filter((x) => x.decision === 'revoked')
            .slice(0, 500)
            .map((x) => ({ kind: x.kind, subject: x.subject, entitlement: x.entitlement, by: x.decidedBy })),
        },
      }
      // the campaign's closing and its outcome record commit together (db/audited.ts)
      if (
        !(await q.completeReview(
          id,
          callerLabel(caller),
          new Date(),
          c.audit.with((done) => (done ? record : null)),
        ))
      )
        throw adminError('invalid_state', `access review ${id} was completed meanwhile`)
      return reviewView(await findReview(id), counts)
    },
  }
}
export type AdminReviews = ReturnType<typeof adminReviews>
