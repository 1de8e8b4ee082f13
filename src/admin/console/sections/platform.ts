import type Router from '@koa/router'
import type { Context } from 'koa'
import { html } from '../../../views/html.ts'
import { fieldErrorsOf, messageOf } from '../api.ts'
import type { ConsoleKit } from '../routes.ts'
import { field, formErrors, problem, select, textArea, when } from '../pages/layout.ts'

const enc = encodeURIComponent
interface Scope {
  name: string
  description: string | null
  roles: string[]
}
interface Resource {
  indicator: string
  builtIn: boolean
  scopes: Scope[]
  accessTokenFormat: string
  accessTokenTtl: number
  accessTokenSigningAlg: string
  etag: string
}
interface Snapshot {
  store: string
  version: number
  model: string
  lines: string[][]
  author: string
  reason: string | null
  createdAt: string
}

/** "name: role role — description" per line, the form's text for a resource's scopes. */
const scopesText = (scopes: Scope[]) =>
  scopes.map((s) => `${s.name}: ${s.roles.join(' ')}${s.description ? ` — ${s.description}` : ''}`).join('\n')
export function parseScopes(text: string): { name: string; roles: string[]; description?: string }[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const [head, ...desc] = l.split(' — ')
      const [name, roles = ''] = head!.split(':')
      const description = desc.join(' — ').trim()
      return {
        name: name!.trim(),
        roles: roles.split(/[\s,]+/).filter(Boolean),
        ...(description ? { description } : {}),
      }
    })
}

/** API resources and their scopes with the roles that hold them. */
function resourceRoutes(router: Router, kit: ConsoleKit) {
  router.get('/resources', async (ctx) => {
    const a = await kit.api<{ items: Resource[] }>(ctx, 'GET', '/admin/v1/resources?limit=200')
    if (a.status !== 200)
      return kit.render(ctx, 'Resources', '/admin/resources', problem('Resources', messageOf(a), '/admin'), a.status)
    kit.render(
      ctx,
      'Resources',
      '/admin/resources',
      html`<h1>API resources</h1>
<p><a class="button-link first" href="/admin/resources/new">New resource</a></p>
<table><thead><tr><th scope="col">Indicator</th><th scope="col">Scopes (roles)</th><th scope="col">Token</th></tr></thead>
<tbody>${a.body.items.map(
        (
          r,
        ) => html`<tr><td>${r.builtIn ? r.indicator : html`<a href="/admin/resources/${enc(r.indicator)}">${r.indicator}</a>`}${r.builtIn ? html` <span class="badge">built in</span>` : ''}</td>
<td>${r.scopes.map((s) => `${s.name}${s.roles.length ? ` (${s.roles.join(', ')})` : ''}`).join('; ')}</td><td>${r.accessTokenFormat}, ${r.accessTokenTtl} s</td></tr>`,
      )}</tbody></table>`,
    )
  })
  const form = (
    ctx: Context,
    o: { r?: Resource; v?: Record<string, string>; errors?: Record<string, string>; status?: number },
  ) => {
    const v =
      o.v ??
      (o.r
        ? { scopes: scopesText(o.r.scopes), format: o.r.accessTokenFormat, ttl: String(o.r.accessTokenTtl) }
        : { format: 'jwt', ttl: '3600' })
    const e = o.errors ?? {}
    const action = o.r ? `/admin/resources/${enc(o.r.indicator)}` : '/admin/resources'
    kit.render(
      ctx,
      o.r ? o.r.indicator : 'New resource',
      '/admin/resources',
      html`<h1>${o.r ? o.r.indicator : 'New resource'}</h1>
${formErrors(e, ['indicator', 'scopes', 'ttl'])}
<form method="post" action="${action}" novalidate>
<input type="hidden" name="csrf" value="${kit.session(ctx).csrf}">${o.r ? html`<input type="hidden" name="etag" value="${o.r.etag}">` : ''}
${o.r ? '' : field({ name: 'indicator', label: 'Indicator (an https URL)', value: v.indicator, error: e.indicator, required: true, autocomplete: 'off' })}
${textArea({ name: 'scopes', label: 'Scopes', value: v.scopes, error: e.scopes, hint: 'One per line: name: role role — description. The roles are the user roles that hold the scope.', rows: 6 })}
${select(
  'format',
  'Access token format',
  [
    ['jwt', 'JWT'],
    ['opaque', 'Opaque'],
  ],
  v.format,
)}
${field({ name: 'ttl', label: 'Access token lifetime (seconds)', type: 'number', value: v.ttl, error: e.ttl })}
<button type="submit">${o.r ? 'Save' : 'Create resource'}</button>
</form>`,
      o.status,
    )
  }
  const body = (f: Record<string, string>) => ({
    scopes: parseScopes(f.scopes ?? ''),
    accessTokenFormat: f.format === 'opaque' ? 'opaque' : 'jwt',
    accessTokenTtl: Number(f.ttl) || 0,
  })
  const errorsOf = (a: { status: number }, all: Record<string, string>) => {
    if (a.status !== 400) return { _: messageOf(a as never) }
    const out: Record<string, string> = {}
    for (const [k, m] of Object.entries(all))
      out[k.startsWith('scopes') ? 'scopes' : k === 'accessTokenTtl' ? 'ttl' : k] ??= `${k}: ${m}`
    return out
  }
  router.get('/resources/new', (ctx) => form(ctx, {}))
  router.post('/resources', async (ctx) => {
    const f = await kit.form(ctx)
    const a = await kit.api<Resource>(ctx, 'POST', '/admin/v1/resources', {
      json: { indicator: (f.indicator ?? '').trim(), ...body(f) },
    })
    if (a.status !== 201) return form(ctx, { v: f, errors: errorsOf(a, fieldErrorsOf(a)), status: a.status })
    await kit.done(ctx, `/admin/resources/${enc(a.body.indicator)}`, 'Resource created.')
  })
  const load = (ctx: Context) => kit.api<Resource>(ctx, 'GET', `/admin/v1/resources/${enc(ctx.params.indicator!)}`)
  router.get('/resources/:indicator', async (ctx) => {
    const a = await load(ctx)
    if (a.status !== 200)
      return kit.render(
        ctx,
        'Resource',
        '/admin/resources',
        problem('Resource', messageOf(a), '/admin/resources'),
        a.status,
      )
    form(ctx, { r: a.body })
  })
  router.post('/resources/:indicator', async (ctx) => {
    const f = await kit.form(ctx)
    const a = await kit.api<Resource>(ctx, 'PATCH', `/admin/v1/resources/${enc(ctx.params.indicator!)}`, {
      json: body(f),
      ifMatch: f.etag || undefined,
    })
    if (a.status === 200) return kit.done(ctx, `/admin/resources/${enc(ctx.params.indicator!)}`, 'Saved.')
    const cur = await load(ctx)
    if (cur.status !== 200)
      return kit.render(
        ctx,
        'Resource',
        '/admin/resources',
        problem('Resource', messageOf(a), '/admin/resources'),
        a.status,
      )
    form(ctx, {
      r: cur.body,
      v: f,
      errors:
        a.status === 412
          ? { _: 'Someone else changed this resource since you opened it; reload and change it again.' }
          : errorsOf(a, fieldErrorsOf(a)),
      status: a.status,
    })
  })
}

/** Policy stores: the current version, and a new version from the whole policy text (If-Match). */
function policyRoutes(router: Router, kit: ConsoleKit) {
  router.get('/policies', async (ctx) => {
    const a = await kit.api<{
      items: { name: string; description: string | null; version: number; builtIn: boolean }[]
    }>(ctx, 'GET', '/admin/v1/policy-stores')
    if (a.status !== 200)
      return kit.render(ctx, 'Policies', '/admin/policies', problem('Policies', messageOf(a), '/admin'), a.status)
    kit.render(
      ctx,
      'Policies',
      '/admin/policies',
      html`<h1>Policy stores</h1>
<table><thead><tr><th scope="col">Store</th><th scope="col">Version</th><th scope="col">Description</th></tr></thead>
<tbody>${a.body.items.map((s) => html`<tr><td><a href="/admin/policies/${enc(s.name)}">${s.name}</a>${s.builtIn ? html` <span class="badge">built in</span>` : ''}</td><td>${s.version}</td><td>${s.description ?? ''}</td></tr>`)}</tbody></table>`,
    )
  })
  const show = async (ctx: Context, o: { policy?: string; reason?: string; error?: string; status?: number } = {}) => {
    const a = await kit.api<Snapshot>(ctx, 'GET', `/admin/v1/policy-stores/${enc(ctx.params.store!)}`)
    if (a.status !== 200)
      return kit.render(
        ctx,
        'Policy store',
        '/admin/policies',
        problem('Policy store', messageOf(a), '/admin/policies'),
        a.status,
      )
    const s = a.body
    const text = s.lines.map((l) => l.join(', ')).join('\n')
    kit.render(
      ctx,
      s.store,
      '/admin/policies',
      html`<h1>Policy store ${s.store}</h1>
<dl class="props"><dt>Version</dt><dd>${s.version}</dd><dt>By</dt><dd>${s.author}</dd><dt>When</dt><dd>${when(s.createdAt)}</dd><dt>Reason</dt><dd>${s.reason ?? '—'}</dd></dl>
<h2>New version</h2>
${o.error ? html`<p class="error" role="alert">${o.error}</p>` : ''}
<form method="post" action="/admin/policies/${enc(s.store)}" novalidate>
<input type="hidden" name="csrf" value="${kit.session(ctx).csrf}"><input type="hidden" name="etag" value="${a.headers.etag ? String(a.headers.etag) : `"${s.version}"`}">
${textArea({ name: 'policy', label: 'Policy (one rule per line, as CSV)', value: o.policy ?? text, rows: 14, hint: `The whole policy; saving makes version ${s.version + 1}, based on version ${s.version}.` })}
${field({ name: 'reason', label: 'Reason (kept with the version)', value: o.reason, autocomplete: 'off' })}
<button type="submit">Save new version</button>
</form>`,
      o.status,
    )
  }
  router.get('/policies/:store', (ctx) => show(ctx))
  router.post('/policies/:store', async (ctx) => {
    const f = await kit.form(ctx)
    const reason = f.reason?.trim()
    const a = await kit.api<{ version: number; changed: boolean }>(
      ctx,
      'POST',
      `/admin/v1/policy-stores/${enc(ctx.params.store!)}/versions`,
      { json: { policy: f.policy ?? '', ...(reason ? { reason } : {}) }, ifMatch: f.etag || undefined },
    )
    if (a.status !== 200) {
      const error =
        a.status === 412
          ? 'Someone saved a newer version since you opened this page; your text is kept below, compare it with the current version and save again.'
          : messageOf(a)
      return show(ctx, { policy: f.policy, reason: f.reason, error, status: a.status })
    }
    await kit.done(
      ctx,
      `/admin/policies/${enc(ctx.params.store!)}`,
      a.body.changed ? `Version ${a.body.version} saved.` : 'Nothing changed.',
    )
  })
}

export function platformRoutes(router: Router, kit: ConsoleKit) {
  resourceRoutes(router, kit)
  policyRoutes(router, kit)
}
