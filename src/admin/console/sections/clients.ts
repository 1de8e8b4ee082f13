import type Router from '@koa/router'
import type { Context } from 'koa'
import { z } from 'zod'
import { fieldErrorsOf, messageOf } from '../api.ts'
import type { ConsoleKit } from '../routes.ts'
import {
  clientDetailBody,
  clientFormBody,
  clientsListBody,
  metadataFromForm,
  type ClientRow,
} from '../pages/clients.ts'
import { confirmBody } from '../pages/layout.ts'
import { html } from '../../../views/html.ts'

const enc = encodeURIComponent
const listQuery = z.object({ q: z.string().max(100).optional(), cursor: z.string().max(200).optional() })
const missing = (m: string) =>
  html`<h1>Client</h1><p role="alert">${m}</p><p><a href="/admin/clients">Back to clients</a></p>`

/** Clients: list, register (secret shown once), edit, rotate the secret, delete (confirmed). */
export function clientRoutes(router: Router, kit: ConsoleKit) {
  router.get('/clients', async (ctx) => {
    const parsed = listQuery.safeParse(ctx.query)
    const q = parsed.success ? parsed.data : {}
    const params = new URLSearchParams({
      limit: '25',
      ...(q.q ? { id: q.q } : {}),
      ...(q.cursor ? { cursor: q.cursor } : {}),
    })
    const a = await kit.api<{ items: ClientRow[]; nextCursor?: string }>(ctx, 'GET', `/admin/v1/clients?${params}`)
    if (a.status !== 200) return kit.render(ctx, 'Clients', '/admin/clients', missing(messageOf(a)), a.status)
    kit.render(
      ctx,
      'Clients',
      '/admin/clients',
      clientsListBody({
        term: q.q ?? '',
        items: a.body.items,
        nextCursor: a.body.nextCursor,
        paged: Boolean(q.cursor),
      }),
    )
  })
  router.get('/clients/new', (ctx) =>
    kit.render(ctx, 'New client', '/admin/clients', clientFormBody(kit.session(ctx).csrf, {}, {})),
  )
  router.post('/clients', async (ctx) => {
    const f = await kit.form(ctx)
    const a = await kit.api<{ client: ClientRow; secret?: string }>(ctx, 'POST', '/admin/v1/clients', {
      json: { clientId: (f.clientId ?? '').trim(), metadata: metadataFromForm(f, true) },
    })
    if (a.status !== 201) {
      const errors = a.status === 400 ? fieldErrorsOf(a) : { clientId: messageOf(a) }
      return kit.render(
        ctx,
        'New client',
        '/admin/clients',
        clientFormBody(kit.session(ctx).csrf, f, errors),
        a.status === 409 ? 400 : a.status,
      )
    }
    if (a.body.secret)
      await kit.flash(ctx, {
        title: 'Client secret',
        label: 'Client secret',
        secret: a.body.secret,
        note: 'Stored hashed: if it is lost, rotate it.',
      })
    await kit.done(ctx, `/admin/clients/${enc(a.body.client.clientId)}`, `Client ${a.body.client.clientId} registered.`)
  })

  clientDetailRoutes(router, kit)
}

/** One client: its page, edit, secret rotation, deletion (confirmed). */
function clientDetailRoutes(router: Router, kit: ConsoleKit) {
  const detail = async (
    ctx: Context,
    extra: { errors?: Record<string, string>; values?: Record<string, string>; status?: number } = {},
  ) => {
    const a = await kit.api<ClientRow>(ctx, 'GET', `/admin/v1/clients/${enc(ctx.params.id!)}`)
    if (a.status !== 200) return kit.render(ctx, 'Client', '/admin/clients', missing(messageOf(a)), a.status)
    kit.render(
      ctx,
      a.body.clientId,
      '/admin/clients',
      clientDetailBody({
        csrf: kit.session(ctx).csrf,
        canContain: kit.session(ctx).can.containClient,
        client: a.body,
        flash: await kit.takeFlash(ctx),
        ...extra,
      }),
      extra.status,
    )
  }
  router.get('/clients/:id', (ctx) => detail(ctx))
  router.post('/clients/:id', async (ctx) => {
    const f = await kit.form(ctx)
    const a = await kit.api(ctx, 'PATCH', `/admin/v1/clients/${enc(ctx.params.id!)}`, {
      json: metadataFromForm(f, false),
      ifMatch: f.etag || undefined,
    })
    if (a.status === 200) return kit.done(ctx, `/admin/clients/${enc(ctx.params.id!)}`, 'Saved.')
    const errors =
      a.status === 400
        ? fieldErrorsOf(a)
        : {
            _:
              a.status === 412
                ? 'Someone else changed this client since you opened the page. Reload it and make your change again.'
                : messageOf(a),
          }
    await detail(ctx, { errors, values: f, status: a.status })
  })
  router.get('/clients/:id/rotate', (ctx) =>
    kit.render(
      ctx,
      'Rotate secret',
      '/admin/clients',
      confirmBody({
        heading: `Rotate the secret of ${ctx.params.id}?`,
        text: 'The current secret stops working at once; the new one is shown once.',
        action: `/admin/clients/${enc(ctx.params.id!)}/rotate`,
        csrf: kit.session(ctx).csrf,
        button: 'Rotate secret',
        back: `/admin/clients/${enc(ctx.params.id!)}`,
      }),
    ),
  )
  router.post('/clients/:id/rotate', async (ctx) => {
    await kit.form(ctx)
    const a = await kit.api<{ secret: string }>(ctx, 'POST', `/admin/v1/clients/${enc(ctx.params.id!)}/rotate-secret`)
    if (a.status !== 200) return detail(ctx, { errors: { _: messageOf(a) }, status: a.status })
    await kit.flash(ctx, {
      title: 'New client secret',
      label: 'Client secret',
      secret: a.body.secret,
      note: 'The previous secret no longer works.',
    })
    await kit.done(ctx, `/admin/clients/${enc(ctx.params.id!)}`, 'Secret rotated.')
  })
  router.get('/clients/:id/delete', async (ctx) => {
    const a = await kit.api<ClientRow>(ctx, 'GET', `/admin/v1/clients/${enc(ctx.params.id!)}`)
    if (a.status !== 200) return kit.render(ctx, 'Client', '/admin/clients', missing(messageOf(a)), a.status)
    kit.render(
      ctx,
      'Delete client',
      '/admin/clients',
      confirmBody({
        heading: `Delete ${a.body.clientId}?`,
        text: 'Its API keys are revoked and its admin roles, grants and tokens are deleted. Applications using it stop working. This cannot be undone.',
        action: `/admin/clients/${enc(a.body.clientId)}/delete`,
        csrf: kit.session(ctx).csrf,
        button: 'Delete client',
        back: `/admin/clients/${enc(a.body.clientId)}`,
        etag: a.body.etag,
      }),
    )
  })
  router.post('/clients/:id/delete', async (ctx) => {
    const f = await kit.form(ctx)
    const a = await kit.api(ctx, 'DELETE', `/admin/v1/clients/${enc(ctx.params.id!)}`, { ifMatch: f.etag || undefined })
    if (a.status === 200) return kit.done(ctx, '/admin/clients', 'Client deleted.')
    await detail(ctx, { errors: { _: messageOf(a) }, status: a.status })
  })
}
