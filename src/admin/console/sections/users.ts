import type Router from '@koa/router'
import type { Context } from 'koa'
import { z } from 'zod'
import { fieldErrorsOf, messageOf } from '../api.ts'
import type { ConsoleKit } from '../routes.ts'
import { careBody, userDetailBody, userFormBody, usersListBody, type UserRow } from '../pages/users.ts'
import { confirmBody } from '../pages/layout.ts'
import { html } from '../../../views/html.ts'

const enc = encodeURIComponent
const PAGE = 25
const listQuery = z.object({
  q: z.string().max(200).optional(),
  status: z.enum(['active', 'disabled', '']).optional(),
  cursor: z.string().max(200).optional(),
})
const ACTIONS: Record<string, { path: string; label: string }> = {
  disable: { path: 'disable', label: 'User disabled; their sessions ended.' },
  enable: { path: 'enable', label: 'User enabled.' },
  unlock: { path: 'unlock', label: 'Sign-in lockout lifted.' },
  'reset-mfa': { path: 'reset-mfa', label: 'Second factors removed; the user enrols again at the next sign-in.' },
  'reset-password': { path: 'reset-password', label: '' },
}

/** Users: search and cursor paging, create (invitation or initial password), edit, actions, sessions. */
export function userRoutes(router: Router, kit: ConsoleKit) {
  const list = async (ctx: Context) => {
    const s = kit.session(ctx)
    if (!s.can.users) {
      if (!s.can.userCare) return kit.render(ctx, 'Not allowed', '/admin/users', careBody(s.csrf, {}, ''), 403)
      return kit.render(ctx, 'Account help', '/admin/users', careBody(s.csrf, {}, ''))
    }
    const parsed = listQuery.safeParse(ctx.query)
    const q = parsed.success ? parsed.data : {}
    const term = q.q?.trim() ?? ''
    const params = new URLSearchParams({ limit: String(PAGE) })
    // The search box matches part of the email address (the API's `email` filter).
    if (term) params.set('email', term)
    if (q.status) params.set('status', q.status)
    if (q.cursor) params.set('cursor', q.cursor)
    const a = await kit.api<{ items: UserRow[]; nextCursor?: string }>(ctx, 'GET', `/admin/v1/users?${params}`)
    const items = a.status === 200 ? a.body.items : []
    const error = a.status === 200 ? undefined : messageOf(a)
    const body = usersListBody({
      term,
      status: q.status ?? '',
      items,
      nextCursor: a.status === 200 ? a.body.nextCursor : undefined,
      paged: Boolean(q.cursor),
      error,
      canWrite: true,
    })
    kit.render(ctx, 'Users', '/admin/users', body)
  }
  router.get('/users', list)

  router.get('/users/new', (ctx) =>
    kit.render(ctx, 'New user', '/admin/users', userFormBody(kit.session(ctx).csrf, {}, {})),
  )
  router.post('/users', async (ctx) => {
    const f = await kit.form(ctx)
    const mode = f.initial === 'password' ? 'password' : 'invite'
    const json = {
      email: (f.email ?? '').trim(),
      ...(f.name?.trim() ? { name: f.name.trim() } : {}),
      ...(mode === 'invite' ? { invite: true } : {}),
    }
    const a = await kit.api<{ user: UserRow; password?: string; invitation?: { url: string; expiresAt: string } }>(
      ctx,
      'POST',
      '/admin/v1/users',
      { json },
    )
    if (a.status !== 201) {
      const errors = a.status === 400 ? fieldErrorsOf(a) : { email: messageOf(a) }
      return kit.render(
        ctx,
        'New user',
        '/admin/users',
        userFormBody(kit.session(ctx).csrf, f, errors),
        a.status === 400 || a.status === 409 ? 400 : a.status,
      )
    }
    const { user, password, invitation } = a.body
    if (invitation)
      await kit.flash(ctx, {
        title: 'Invitation link',
        label: 'Invitation link',
        secret: invitation.url,
        note: `It was mailed to ${user.email}; you can also pass it on yourself. It sets a password once, until ${invitation.expiresAt}.`,
      })
    else if (password)
      await kit.flash(ctx, {
        title: 'Initial password',
        label: 'Initial password',
        secret: password,
        note: 'The user must change it at the first sign-in.',
      })
    await kit.done(ctx, `/admin/users/${enc(user.id)}`, `User ${user.email} created.`)
  })

  router.post('/users/care', async (ctx) => {
    const f = await kit.form(ctx)
    const action = ['unlock', 'reset-mfa', 'reset-password'].includes(f.action ?? '') ? f.action! : 'unlock'
    const email = (f.email ?? '').trim()
    const a = await kit.api<{ password?: string }>(ctx, 'POST', `/admin/v1/users/${enc(email || '-')}/${action}`)
    if (a.status !== 200)
      return kit.render(
        ctx,
        'Account help',
        '/admin/users',
        careBody(kit.session(ctx).csrf, { email }, messageOf(a)),
        a.status,
      )
    if (a.body.password)
      await kit.flash(ctx, {
        title: 'Temporary password',
        label: 'Temporary password',
        secret: a.body.password,
        note: `For ${email}; it must be changed at the next sign-in.`,
      })
    await kit.done(ctx, '/admin/users/care', action === 'reset-password' ? 'Password reset.' : ACTIONS[action]!.label)
  })
  router.get('/users/care', async (ctx) =>
    kit.render(ctx, 'Account help', '/admin/users', careBody(kit.session(ctx).csrf, {}, '', await kit.takeFlash(ctx))),
  )

  userDetailRoutes(router, kit)
}

/** One user: its page with sessions, edit, delete (confirmed), end a session, the account actions. */
function userDetailRoutes(router: Router, kit: ConsoleKit) {
  const detail = async (
    ctx: Context,
    extra: { errors?: Record<string, string>; values?: Record<string, string>; status?: number } = {},
  ) => {
    const id = ctx.params.id!
    const a = await kit.api<UserRow & { adminRoles: string[] }>(ctx, 'GET', `/admin/v1/users/${enc(id)}`)
    if (a.status !== 200) return kit.render(ctx, 'User', '/admin/users', confirmMissing(messageOf(a)), a.status)
    const s = await kit.api<{
      items: { id: string; createdAt: string; lastSeenAt: string; ip: string | null; userAgent: string | null }[]
    }>(ctx, 'GET', `/admin/v1/users/${enc(id)}/sessions`)
    const sessions = s.status === 200 ? s.body.items : undefined
    kit.render(
      ctx,
      a.body.email,
      '/admin/users',
      userDetailBody({
        csrf: kit.session(ctx).csrf,
        canContain: kit.session(ctx).can.containUser,
        user: a.body,
        sessions,
        flash: await kit.takeFlash(ctx),
        ...extra,
      }),
      extra.status,
    )
  }
  router.get('/users/:id', (ctx) => detail(ctx))
  router.post('/users/:id', async (ctx) => {
    const f = await kit.form(ctx)
    const json = { name: f.name?.trim() ? f.name.trim() : null, emailVerified: f.emailVerified === 'yes' }
    const a = await kit.api(ctx, 'PATCH', `/admin/v1/users/${enc(ctx.params.id!)}`, {
      json,
      ifMatch: f.etag || undefined,
    })
    if (a.status === 200) return kit.done(ctx, `/admin/users/${enc(ctx.params.id!)}`, 'Saved.')
    const errors =
      a.status === 400
        ? fieldErrorsOf(a)
        : {
            _:
              a.status === 412
                ? 'Someone else changed this user since you opened the page. Reload it and make your change again.'
                : messageOf(a),
          }
    await detail(ctx, { errors, values: f, status: a.status })
  })
  router.get('/users/:id/delete', async (ctx) => {
    const a = await kit.api<UserRow>(ctx, 'GET', `/admin/v1/users/${enc(ctx.params.id!)}`)
    if (a.status !== 200) return kit.render(ctx, 'User', '/admin/users', confirmMissing(messageOf(a)), a.status)
    kit.render(
      ctx,
      'Delete user',
      '/admin/users',
      confirmBody({
        heading: `Delete ${a.body.email}?`,
        text: 'Their sessions end, their API keys are revoked, and their admin roles, grants and tokens are deleted. This cannot be undone.',
        action: `/admin/users/${enc(a.body.id)}/delete`,
        csrf: kit.session(ctx).csrf,
        button: 'Delete user',
        back: `/admin/users/${enc(a.body.id)}`,
        etag: a.body.etag,
      }),
    )
  })
  router.post('/users/:id/delete', async (ctx) => {
    const f = await kit.form(ctx)
    const a = await kit.api(ctx, 'DELETE', `/admin/v1/users/${enc(ctx.params.id!)}`, { ifMatch: f.etag || undefined })
    if (a.status === 200) return kit.done(ctx, '/admin/users', 'User deleted.')
    await detail(ctx, { errors: { _: messageOf(a) }, status: a.status })
  })
  router.post('/users/:id/sessions/:sid/revoke', async (ctx) => {
    await kit.form(ctx)
    const a = await kit.api(ctx, 'DELETE', `/admin/v1/users/${enc(ctx.params.id!)}/sessions/${enc(ctx.params.sid!)}`)
    await kit.done(ctx, `/admin/users/${enc(ctx.params.id!)}`, a.status === 200 ? 'Session ended.' : messageOf(a))
  })
  router.post('/users/:id/:action', async (ctx) => {
    await kit.form(ctx)
    const act = ACTIONS[ctx.params.action!]
    if (!act) return
    const a = await kit.api<{ password?: string }>(ctx, 'POST', `/admin/v1/users/${enc(ctx.params.id!)}/${act.path}`)
    if (a.status !== 200) return detail(ctx, { errors: { _: messageOf(a) }, status: a.status })
    if (a.body.password)
      await kit.flash(ctx, {
        title: 'Temporary password',
        label: 'Temporary password',
        secret: a.body.password,
        note: 'The user must change it at the next sign-in; their sessions ended.',
      })
    await kit.done(ctx, `/admin/users/${enc(ctx.params.id!)}`, act.label || 'Password reset.')
  })
}

const confirmMissing = (message: string) =>
  html`<h1>User</h1><p role="alert">${message}</p><p><a href="/admin/users">Back to users</a></p>`
