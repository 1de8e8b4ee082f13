import type Router from '@koa/router'
import type { Context } from 'koa'
import { html } from '../../../views/html.ts'
import { ADMIN_ROLES } from '../../authority.ts'
import { fieldErrorsOf, messageOf } from '../api.ts'
import type { ConsoleKit } from '../routes.ts'
import { actionButton, confirmWithReason, field, formErrors, problem, select, when } from '../pages/layout.ts'

const enc = encodeURIComponent
interface RoleRequest {
  id: string
  subject: string
  role: string
  hours: number
  reason: string
  status: string
  requestedBy: string
  decidedBy: string | null
  expiresAt: string | null
  createdAt: string
  etag: string
}
interface Review {
  id: string
  name: string
  status: string
  createdAt: string
  completedAt: string | null
  counts: { pending: number; confirmed: number; revoked: number }
}
interface ReviewItem {
  id: string
  kind: string
  subject: string
  entitlement: string
  lastUsedAt: string | null
  decision: string
  decidedBy: string | null
  etag: string
}

const etagForm = (action: string, csrf: string, etag: string, label: string, cls = 'secondary') =>
  html`<form method="post" action="${action}" class="inline"><input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="etag" value="${etag}"><button type="submit" class="${cls}">${label}</button></form>`

/** Time-bound role requests (every operator files their own; holders of roles:grant decide others'). */
function roleRequestRoutes(router: Router, kit: ConsoleKit) {
  const page = async (
    ctx: Context,
    v: Record<string, string> = {},
    errors: Record<string, string> = {},
    status = 200,
  ) => {
    const s = kit.session(ctx)
    const a = await kit.api<{ items: RoleRequest[] }>(ctx, 'GET', '/admin/v1/role-requests?limit=100')
    const items = a.status === 200 ? [...a.body.items].reverse() : []
    const me = `user:${s.userId}`
    kit.render(
      ctx,
      'Role requests',
      '/admin/role-requests',
      html`<h1>Role requests</h1>
<p>Ask for an admin role for a few hours with a reason; another administrator approves it and it ends by itself.</p>
<h2>Request a role</h2>
${formErrors(errors, ['role', 'hours', 'reason'])}
<form method="post" action="/admin/role-requests" novalidate>
<input type="hidden" name="csrf" value="${s.csrf}">
${select(
  'role',
  'Role',
  ADMIN_ROLES.map((r) => [r, r]),
  v.role ?? '',
)}
${field({ name: 'hours', label: 'Hours', type: 'number', value: v.hours ?? '1', error: errors.hours, required: true })}
${field({ name: 'reason', label: 'Reason', value: v.reason, error: errors.reason, required: true, autocomplete: 'off' })}
<button type="submit">Request</button>
</form>
<h2>Requests</h2>
${a.status === 200 ? '' : html`<p class="error" role="alert">${messageOf(a)}</p>`}
<table><caption class="hint">${items.length ? 'Newest first' : 'No requests'}</caption>
<thead><tr><th scope="col">For</th><th scope="col">Role</th><th scope="col">Hours</th><th scope="col">Reason</th><th scope="col">Status</th><th scope="col">Until</th><th scope="col"><span class="hint">Action</span></th></tr></thead>
<tbody>${items.map((r) => {
        const base = `/admin/role-requests/${enc(r.id)}`
        const mine = r.subject === me
        return html`<tr><td>${mine ? 'you' : r.subject}</td><td>${r.role}</td><td>${r.hours}</td><td>${r.reason}</td><td>${r.status}</td><td>${when(r.expiresAt)}</td><td>
${r.status === 'pending' && !mine && s.can.roles ? html`${etagForm(`${base}/approve`, s.csrf, r.etag, `Approve ${r.role} for ${r.subject}`, 'first')} ${etagForm(`${base}/deny`, s.csrf, r.etag, 'Deny')}` : ''}
${r.status === 'pending' && mine ? actionButton(`${base}/cancel`, s.csrf, 'Withdraw') : ''}
${r.status === 'active' && s.can.roles ? etagForm(`${base}/revoke`, s.csrf, r.etag, 'End now') : ''}</td></tr>`
      })}</tbody></table>`,
      status,
    )
  }
  router.get('/role-requests', (ctx) => page(ctx))
  router.post('/role-requests', async (ctx) => {
    const f = await kit.form(ctx)
    const hours = /^\d{1,3}$/.test(f.hours?.trim() ?? '') ? Number(f.hours!.trim()) : NaN
    if (!Number.isInteger(hours)) return page(ctx, f, { hours: 'a whole number of hours' }, 400)
    const a = await kit.api(ctx, 'POST', '/admin/v1/role-requests', {
      json: { role: f.role ?? '', hours, reason: (f.reason ?? '').trim() },
    })
    if (a.status !== 201)
      return page(ctx, f, a.status === 400 ? fieldErrorsOf(a) : { _: messageOf(a) }, a.status === 400 ? 400 : a.status)
    await kit.done(
      ctx,
      '/admin/role-requests',
      `Requested ${f.role} for ${hours} hour${hours === 1 ? '' : 's'}; another administrator approves it.`,
    )
  })
  const DONE: Record<string, string> = { approve: 'Approved.', deny: 'Denied.', cancel: 'Withdrawn.', revoke: 'Ended.' }
  router.post('/role-requests/:id/:action', async (ctx) => {
    const f = await kit.form(ctx)
    const action = ctx.params.action!
    if (!DONE[action]) return
    const a = await kit.api(ctx, 'POST', `/admin/v1/role-requests/${enc(ctx.params.id!)}/${action}`, {
      json: {},
      ifMatch: f.etag || undefined,
    })
    if (a.status !== 200)
      return page(
        ctx,
        {},
        { _: a.status === 412 ? 'The request changed since you opened the page; look again.' : messageOf(a) },
        a.status,
      )
    await kit.done(ctx, '/admin/role-requests', DONE[action])
  })
}

/** Access review campaigns: start, confirm or revoke each holding, complete. */
function reviewRoutes(router: Router, kit: ConsoleKit) {
  const list = async (ctx: Context, v: Record<string, string> = {}, error?: string, status = 200) => {
    const a = await kit.api<{ items: Review[] }>(ctx, 'GET', '/admin/v1/access-reviews?limit=100')
    if (a.status !== 200)
      return kit.render(
        ctx,
        'Access reviews',
        '/admin/reviews',
        problem('Access reviews', messageOf(a), '/admin'),
        a.status,
      )
    kit.render(
      ctx,
      'Access reviews',
      '/admin/reviews',
      html`<h1>Access reviews</h1>
<p>A campaign takes a snapshot of who holds admin roles, time-bound roles, management scopes and live API keys; each holding is confirmed or revoked, then the campaign is completed and its outcome goes to the compliance report.</p>
${
  kit.session(ctx).can.roles
    ? html`<h2>Start a campaign</h2><form method="post" action="/admin/reviews" novalidate>
<input type="hidden" name="csrf" value="${kit.session(ctx).csrf}">
${field({ name: 'name', label: 'Campaign name', value: v.name, error, required: true, autocomplete: 'off' })}
<button type="submit">Start review</button></form>`
    : ''
}
<h2>Campaigns</h2>
<table><thead><tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Started</th><th scope="col">Pending</th><th scope="col">Confirmed</th><th scope="col">Revoked</th></tr></thead>
<tbody>${a.body.items.map((r) => html`<tr><td><a href="/admin/reviews/${enc(r.id)}">${r.name}</a></td><td>${r.status}</td><td>${when(r.createdAt)}</td><td>${r.counts.pending}</td><td>${r.counts.confirmed}</td><td>${r.counts.revoked}</td></tr>`)}</tbody></table>`,
      status,
    )
  }
  router.get('/reviews', (ctx) => list(ctx))
  router.post('/reviews', async (ctx) => {
    const f = await kit.form(ctx)
    const a = await kit.api<Review>(ctx, 'POST', '/admin/v1/access-reviews', { json: { name: (f.name ?? '').trim() } })
    if (a.status !== 201)
      return list(ctx, f, a.status === 400 ? (fieldErrorsOf(a).name ?? messageOf(a)) : messageOf(a), a.status)
    await kit.done(ctx, `/admin/reviews/${enc(a.body.id)}`, `Review ${a.body.name} started.`)
  })
  const detail = async (ctx: Context, error?: string, status = 200) => {
    const id = enc(ctx.params.id!)
    const [r, items] = await Promise.all([
      kit.api<Review>(ctx, 'GET', `/admin/v1/access-reviews/${id}`),
      kit.api<{ items: ReviewItem[] }>(ctx, 'GET', `/admin/v1/access-reviews/${id}/items?limit=200`),
    ])
    if (r.status !== 200 || items.status !== 200)
      return kit.render(
        ctx,
        'Access review',
        '/admin/reviews',
        problem('Access review', messageOf(r.status !== 200 ? r : items), '/admin/reviews'),
        r.status !== 200 ? r.status : items.status,
      )
    const s = kit.session(ctx)
    const open = r.body.status === 'open' && s.can.roles
    kit.render(
      ctx,
      r.body.name,
      '/admin/reviews',
      html`<h1>${r.body.name}</h1>
${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<p>${r.body.status} · ${r.body.counts.pending} pending, ${r.body.counts.confirmed} confirmed, ${r.body.counts.revoked} revoked</p>
<table><thead><tr><th scope="col">Who</th><th scope="col">Holds</th><th scope="col">Kind</th><th scope="col">Last used</th><th scope="col">Decision</th><th scope="col"><span class="hint">Action</span></th></tr></thead>
<tbody>${items.body.items.map(
        (
          i,
        ) => html`<tr><td>${i.subject}</td><td>${i.entitlement}</td><td>${i.kind}</td><td>${when(i.lastUsedAt)}</td><td>${i.decision}</td><td>
${open && i.decision === 'pending' ? html`${etagForm(`/admin/reviews/${id}/items/${enc(i.id)}/confirm`, s.csrf, i.etag, `Confirm ${i.entitlement} of ${i.subject}`, 'first')} ${etagForm(`/admin/reviews/${id}/items/${enc(i.id)}/revoke`, s.csrf, i.etag, `Revoke ${i.entitlement} of ${i.subject}`, 'danger')}` : ''}</td></tr>`,
      )}</tbody></table>
${open ? actionButton(`/admin/reviews/${id}/complete`, s.csrf, 'Complete review', 'first') : ''}`,
      status,
    )
  }
  router.get('/reviews/:id', (ctx) => detail(ctx))
  router.post('/reviews/:id/items/:item/:decision', async (ctx) => {
    const f = await kit.form(ctx)
    const decision = ctx.params.decision
    if (decision !== 'confirm' && decision !== 'revoke') return
    const a = await kit.api(
      ctx,
      'POST',
      `/admin/v1/access-reviews/${enc(ctx.params.id!)}/items/${enc(ctx.params.item!)}`,
      { json: { decision }, ifMatch: f.etag || undefined },
    )
    if (a.status !== 200) return detail(ctx, messageOf(a), a.status)
    await kit.done(
      ctx,
      `/admin/reviews/${enc(ctx.params.id!)}`,
      decision === 'confirm' ? 'Confirmed.' : 'Revoked; it no longer holds.',
    )
  })
  router.post('/reviews/:id/complete', async (ctx) => {
    await kit.form(ctx)
    const a = await kit.api(ctx, 'POST', `/admin/v1/access-reviews/${enc(ctx.params.id!)}/complete`)
    if (a.status !== 200) return detail(ctx, messageOf(a), a.status)
    await kit.done(ctx, `/admin/reviews/${enc(ctx.params.id!)}`, 'Review completed.')
  })
}

/** Containment of a user or a client (reason required, a confirmation page of its own). */
function containmentRoutes(router: Router, kit: ConsoleKit) {
  const KINDS = {
    users: {
      what: 'user',
      text: 'Every session, grant and token ends, every API key and time-bound role is revoked, and the user is disabled.',
    },
    clients: {
      what: 'client',
      text: 'The client can no longer authenticate; its grants and tokens are deleted and its API keys revoked.',
    },
  } as const
  for (const kind of ['users', 'clients'] as const) {
    const k = KINDS[kind]
    const confirm = (ctx: Context, error?: string, reason?: string, status = 200) =>
      kit.render(
        ctx,
        `Contain ${k.what}`,
        `/admin/${kind}`,
        confirmWithReason({
          heading: `Contain this ${k.what}?`,
          text: `${k.text} Use it when the ${k.what} may be compromised.`,
          action: `/admin/${kind}/${enc(ctx.params.id!)}/contain`,
          csrf: kit.session(ctx).csrf,
          button: `Contain ${k.what}`,
          back: `/admin/${kind}/${enc(ctx.params.id!)}`,
          error,
          reason,
        }),
        status,
      )
    router.get(`/${kind}/:id/contain`, (ctx) => confirm(ctx))
    router.post(`/${kind}/:id/contain`, async (ctx) => {
      const f = await kit.form(ctx)
      const reason = (f.reason ?? '').trim()
      if (reason.length < 3)
        return confirm(ctx, 'Say why (at least 3 characters); it is recorded in the audit log.', reason, 400)
      const a = await kit.api<{ apiKeysRevoked: string[]; grantsRevoked: number; sessionsEnded?: number }>(
        ctx,
        'POST',
        `/admin/v1/${kind}/${enc(ctx.params.id!)}/contain`,
        { json: { reason } },
      )
      if (a.status !== 200)
        return confirm(
          ctx,
          a.status === 400 ? (fieldErrorsOf(a).reason ?? messageOf(a)) : messageOf(a),
          reason,
          a.status,
        )
      const b = a.body
      await kit.done(
        ctx,
        `/admin/${kind}/${enc(ctx.params.id!)}`,
        `Contained: ${b.sessionsEnded !== undefined ? `${b.sessionsEnded} sessions ended, ` : ''}${b.grantsRevoked} grants and ${b.apiKeysRevoked.length} API keys revoked; disabled.`,
      )
    })
  }
}

export function accessRoutes(router: Router, kit: ConsoleKit) {
  containmentRoutes(router, kit)
  roleRequestRoutes(router, kit)
  reviewRoutes(router, kit)
}
