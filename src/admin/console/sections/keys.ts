import type Router from '@koa/router'
import type { Context } from 'koa'
import { z } from 'zod'
import { html } from '../../../views/html.ts'
import { messageOf } from '../api.ts'
import type { ConsoleKit } from '../routes.ts'
import { confirmBody, confirmWithReason, field, problem, select, when } from '../pages/layout.ts'

const enc = encodeURIComponent
const KID = /^[\w-]{1,100}$/
interface SigningKey {
  kid: string
  alg: string
  status: string
  createdAt: string
  activatedAt: string | null
  retireAfter: string | null
  retiredAt: string | null
}
interface ApiKey {
  id: string
  owner: string
  name: string
  scopes: string[]
  status: string
  expires_at: string
  created_at: string
  last_used_at: string | null
  revoked_at: string | null
}
const apiKeyQuery = z.object({
  owner: z.string().max(330).optional(),
  status: z.enum(['', 'active', 'pending_approval', 'rotated', 'expired', 'revoked']).optional(),
  name: z.string().max(200).optional(),
  scope: z.string().max(200).optional(),
  cursor: z.string().max(2100).optional(),
})

/** Token signing keys (list, rotate, retire) and API keys of every owner (list, revoke). */
export function keyRoutes(router: Router, kit: ConsoleKit) {
  const signingKeys = async (ctx: Context, error?: string, status = 200) => {
    const can = kit.session(ctx).can
    const a = await kit.api<{ items: SigningKey[] }>(ctx, 'GET', '/admin/v1/signing-keys?limit=100')
    if (a.status !== 200)
      return kit.render(
        ctx,
        'Signing keys',
        '/admin/signing-keys',
        problem('Signing keys', messageOf(a), '/admin'),
        a.status,
      )
    kit.render(
      ctx,
      'Signing keys',
      '/admin/signing-keys',
      html`<h1>Signing keys</h1>
${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<p>Tokens are signed with the <em>active</em> keys. Rotating makes a new generation the signer; the previous keys stay published (<em>retiring</em>) until what they signed has expired. Retire a key at once only when it may have leaked: tokens it signed stop verifying.</p>
${can.keysRotate ? html`<p><a class="button-link first" href="/admin/signing-keys/rotate">Rotate signing keys…</a></p>` : html`<p class="hint">You may read the keys but not rotate them.</p>`}
<table><caption class="hint">${a.body.items.length} key${a.body.items.length === 1 ? '' : 's'}</caption>
<thead><tr><th scope="col">Key id</th><th scope="col">Algorithm</th><th scope="col">Status</th><th scope="col">Created</th><th scope="col">Published until</th><th scope="col"><span class="hint">Action</span></th></tr></thead>
<tbody>${a.body.items.map(
        (
          k,
        ) => html`<tr><td><code>${k.kid}</code></td><td>${k.alg}</td><td><span class="badge${k.status === 'active' ? '' : ' off'}">${k.status}</span></td><td>${when(k.createdAt)}</td><td>${when(k.retireAfter ?? k.retiredAt)}</td>
<td>${can.keysRotate && k.status === 'retiring' ? html`<a href="/admin/signing-keys/${enc(k.kid)}/retire">Retire ${k.kid} now…</a>` : ''}</td></tr>`,
      )}</tbody></table>`,
      status,
    )
  }
  router.get('/signing-keys', (ctx) => signingKeys(ctx))
  router.get('/signing-keys/rotate', (ctx) =>
    kit.render(
      ctx,
      'Rotate signing keys',
      '/admin/signing-keys',
      confirmBody({
        heading: 'Rotate the signing keys?',
        text: 'A new key generation signs every token from now on. The current keys stay published until the tokens they signed expire, so nobody is signed out.',
        action: '/admin/signing-keys/rotate',
        csrf: kit.session(ctx).csrf,
        button: 'Rotate now',
        back: '/admin/signing-keys',
      }),
    ),
  )
  router.post('/signing-keys/rotate', async (ctx) => {
    await kit.form(ctx)
    const a = await kit.api<{ added: { kid: string }[] }>(ctx, 'POST', '/admin/v1/signing-keys/rotate')
    if (a.status !== 200) return signingKeys(ctx, messageOf(a), a.status)
    await kit.done(
      ctx,
      '/admin/signing-keys',
      `Signing keys rotated; new: ${a.body.added.map((k) => k.kid).join(', ')}.`,
    )
  })
  router.get('/signing-keys/:kid/retire', (ctx) => {
    const kid = ctx.params.kid!
    if (!KID.test(kid))
      return kit.render(
        ctx,
        'Signing keys',
        '/admin/signing-keys',
        problem('Signing keys', 'No such key.', '/admin/signing-keys'),
        404,
      )
    kit.render(
      ctx,
      'Retire signing key',
      '/admin/signing-keys',
      confirmBody({
        heading: `Retire key ${kid} now?`,
        text: 'It is removed from the published key set at once: tokens it signed no longer verify and their holders must sign in again.',
        action: `/admin/signing-keys/${enc(kid)}/retire`,
        csrf: kit.session(ctx).csrf,
        button: 'Retire key',
        back: '/admin/signing-keys',
      }),
    )
  })
  router.post('/signing-keys/:kid/retire', async (ctx) => {
    await kit.form(ctx)
    const a = await kit.api(ctx, 'POST', `/admin/v1/signing-keys/${enc(ctx.params.kid!)}/retire`)
    if (a.status !== 200) return signingKeys(ctx, messageOf(a), a.status)
    await kit.done(ctx, '/admin/signing-keys', `Key ${ctx.params.kid} retired.`)
  })

  apiKeyRoutes(router, kit)
}

/** API keys of every owner: filtered list, revoke (with an optional reason). */
function apiKeyRoutes(router: Router, kit: ConsoleKit) {
  router.get('/api-keys', async (ctx) => {
    const parsed = apiKeyQuery.safeParse(ctx.query)
    const q = parsed.success ? parsed.data : {}
    const params = new URLSearchParams({ limit: '50' })
    for (const k of ['owner', 'status', 'name', 'scope', 'cursor'] as const)
      if (q[k]?.trim()) params.set(k, q[k].trim())
    const a = await kit.api<{ items: ApiKey[]; nextCursor?: string }>(ctx, 'GET', `/admin/v1/api-keys?${params}`)
    const items = a.status === 200 ? a.body.items : []
    const filters = Object.fromEntries(
      ['owner', 'status', 'name', 'scope'].filter((k) => params.has(k)).map((k) => [k, params.get(k)!]),
    )
    const next =
      a.status === 200 && a.body.nextCursor
        ? `/admin/api-keys?${new URLSearchParams({ ...filters, cursor: a.body.nextCursor })}`
        : undefined
    const canRevoke = kit.session(ctx).can.apiKeysWrite
    kit.render(
      ctx,
      'API keys',
      '/admin/api-keys',
      html`<h1>API keys</h1>
<form role="search" method="get" action="/admin/api-keys">
${field({ name: 'owner', label: 'Owner (user:ID or client:ID)', value: q.owner })}
${select(
  'status',
  'Status',
  [
    ['', 'Any'],
    ['active', 'Active'],
    ['pending_approval', 'Waiting for approval'],
    ['rotated', 'Rotated'],
    ['expired', 'Expired'],
    ['revoked', 'Revoked'],
  ],
  q.status ?? '',
)}
${field({ name: 'name', label: 'Name contains', value: q.name })}
${field({ name: 'scope', label: 'Scope', value: q.scope })}
<button type="submit">Filter</button>
</form>
${a.status === 200 ? '' : html`<p class="error" role="alert">${messageOf(a)}</p>`}
<table><caption class="hint">${items.length ? `${items.length} key${items.length === 1 ? '' : 's'} on this page` : 'No API keys match'}</caption>
<thead><tr><th scope="col">Name</th><th scope="col">Owner</th><th scope="col">Scopes</th><th scope="col">Status</th><th scope="col">Expires</th><th scope="col">Last used</th><th scope="col"><span class="hint">Action</span></th></tr></thead>
<tbody>${items.map(
        (
          k,
        ) => html`<tr><td>${k.name}<br><code class="hint">${k.id}</code></td><td>${k.owner}</td><td>${k.scopes.join(' ')}</td><td>${k.status}</td><td>${when(k.expires_at)}</td><td>${when(k.last_used_at)}</td>
<td>${canRevoke && !k.revoked_at ? html`<a href="/admin/api-keys/${enc(k.id)}/revoke">Revoke ${k.name}…</a>` : ''}</td></tr>`,
      )}</tbody></table>
<nav class="pager" aria-label="Pages">${q.cursor ? html`<a href="/admin/api-keys?${new URLSearchParams(filters).toString()}">First page</a>` : ''}${next ? html` <a rel="next" href="${next}">Next page</a>` : ''}</nav>`,
      a.status === 200 ? 200 : a.status,
    )
  })
  const revokePage = async (ctx: Context, error?: string, status = 200) => {
    const a = await kit.api<ApiKey>(ctx, 'GET', `/admin/v1/api-keys/${enc(ctx.params.id!)}`)
    if (a.status !== 200)
      return kit.render(
        ctx,
        'API key',
        '/admin/api-keys',
        problem('API key', messageOf(a), '/admin/api-keys'),
        a.status,
      )
    kit.render(
      ctx,
      'Revoke API key',
      '/admin/api-keys',
      confirmWithReason({
        heading: `Revoke the API key ${a.body.name}?`,
        text: `It belongs to ${a.body.owner}. It stops working on every instance at once; whoever uses it needs a new key.`,
        action: `/admin/api-keys/${enc(a.body.id)}/revoke`,
        csrf: kit.session(ctx).csrf,
        button: 'Revoke key',
        back: '/admin/api-keys',
        error,
        optional: true,
      }),
      status,
    )
  }
  router.get('/api-keys/:id/revoke', (ctx) => revokePage(ctx))
  router.post('/api-keys/:id/revoke', async (ctx) => {
    const f = await kit.form(ctx)
    const reason = f.reason?.trim()
    const a = await kit.api<ApiKey>(ctx, 'POST', `/admin/v1/api-keys/${enc(ctx.params.id!)}/revoke`, {
      json: reason ? { reason } : {},
    })
    if (a.status !== 200) return revokePage(ctx, messageOf(a), a.status)
    await kit.done(ctx, '/admin/api-keys', `API key ${a.body.name} revoked.`)
  })
}
