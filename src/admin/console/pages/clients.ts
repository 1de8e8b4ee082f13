import { html, type SafeHtml } from '../../../views/html.ts'
import { checkbox, field, formErrors, secretOnce, when } from './layout.ts'
import type { ConsoleSession } from '../session.ts'

export interface ClientRow {
  clientId: string
  metadata: Record<string, unknown>
  hasSecret: boolean
  createdAt: string
  updatedAt: string
  etag: string
  adminRoles?: string[]
}

const lines = (v: unknown) => (Array.isArray(v) ? v.map(String).join('\n') : '')
const split = (s: string | undefined) =>
  (s ?? '')
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter(Boolean)

/**
 * The form's fields as RFC 7591 metadata. Creating: a confidential web client unless "public"
 * is ticked (then PKCE only, no secret). Editing: name, redirect URIs, grant types, scope.
 */
export function metadataFromForm(f: Record<string, string>, creating: boolean): Record<string, unknown> {
  const grants = split(f.grant_types)
  const m: Record<string, unknown> = {
    client_name: f.client_name?.trim() || null,
    redirect_uris: split(f.redirect_uris),
    grant_types: grants.length ? grants : ['authorization_code'],
    scope: f.scope?.trim() || null,
  }
  if (creating) {
    for (const k of Object.keys(m)) if (m[k] === null) delete m[k]
    m.token_endpoint_auth_method = f.public === 'yes' ? 'none' : 'client_secret_basic'
    const g = m.grant_types as string[]
    m.response_types = g.includes('authorization_code') ? ['code'] : []
  }
  return m
}

export function clientsListBody(o: {
  term: string
  items: ClientRow[]
  nextCursor?: string
  paged: boolean
}): SafeHtml {
  return html`<h1>Clients</h1>
<p><a class="button-link first" href="/admin/clients/new">New client</a></p>
<form role="search" method="get" action="/admin/clients">
<label for="f-q">Search by client id</label>
<input id="f-q" name="q" type="search" value="${o.term}">
<button type="submit">Search</button>
</form>
<table>
<thead><tr><th scope="col">Client id</th><th scope="col">Name</th><th scope="col">Grant types</th><th scope="col">Secret</th><th scope="col">Created</th></tr></thead>
<tbody>${o.items.map((c) => html`<tr><td><a href="/admin/clients/${encodeURIComponent(c.clientId)}">${c.clientId}</a></td><td>${String(c.metadata.client_name ?? '')}</td><td>${lines(c.metadata.grant_types).replace(/\n/g, ', ')}</td><td>${c.hasSecret ? 'yes' : 'public'}</td><td>${when(c.createdAt)}</td></tr>`)}</tbody>
</table>
<nav class="pager" aria-label="Pages">
${o.paged ? html`<a href="/admin/clients${o.term ? `?q=${encodeURIComponent(o.term)}` : ''}">First page</a>` : ''}
${o.nextCursor ? html`<a rel="next" href="/admin/clients?${new URLSearchParams({ ...(o.term ? { q: o.term } : {}), cursor: o.nextCursor }).toString()}">Next page</a>` : ''}
</nav>`
}

const textarea = (name: string, label: string, value: string, error?: string, hint?: string) => html`<div class="field">
<label for="f-${name}">${label}</label>${hint ? html`<p class="hint" id="f-${name}-hint">${hint}</p>` : ''}
<textarea id="f-${name}" name="${name}" rows="3"${error ? html` aria-invalid="true" aria-describedby="f-${name}-error"` : ''}>${value}</textarea>
${error ? html`<p class="error" id="f-${name}-error">${error}</p>` : ''}</div>`

function metadataFields(v: Record<string, string>, e: Record<string, string>) {
  return html`${field({ name: 'client_name', label: 'Name', value: v.client_name, error: e.client_name ?? e['metadata.client_name'] })}
${textarea('redirect_uris', 'Redirect URIs', v.redirect_uris ?? '', e.redirect_uris ?? e['metadata.redirect_uris'], 'One per line.')}
${field({ name: 'grant_types', label: 'Grant types', value: v.grant_types ?? 'authorization_code refresh_token', error: e.grant_types ?? e['metadata.grant_types'], hint: 'Separated by spaces: authorization_code, refresh_token, client_credentials, urn:ietf:params:oauth:grant-type:device_code.' })}
${field({ name: 'scope', label: 'Scope', value: v.scope ?? 'openid email profile', error: e.scope ?? e['metadata.scope'], hint: 'The scopes this client may ask for, separated by spaces.' })}`
}

export function clientFormBody(csrf: string, v: Record<string, string>, errors: Record<string, string>): SafeHtml {
  return html`<h1>New client</h1>
${formErrors(errors, ['clientId', 'client_name', 'redirect_uris', 'grant_types', 'scope', 'metadata.client_name', 'metadata.redirect_uris', 'metadata.grant_types', 'metadata.scope'])}
<form method="post" action="/admin/clients" novalidate>
<input type="hidden" name="csrf" value="${csrf}">
${field({ name: 'clientId', label: 'Client id', value: v.clientId, error: errors.clientId, required: true, hint: 'Letters, digits, _ . : - (at most 100).', autocomplete: 'off' })}
${metadataFields(v, errors)}
${checkbox('public', 'Public client (a browser or native app: PKCE, no secret)', v.public === 'yes')}
<button type="submit">Register client</button>
</form>`
}

export function clientDetailBody(o: {
  csrf: string
  client: ClientRow
  flash?: ConsoleSession['flash']
  errors?: Record<string, string>
  values?: Record<string, string>
  canContain?: boolean
}): SafeHtml {
  const c = o.client
  const m = c.metadata
  const e = o.errors ?? {}
  const v = o.values ?? {
    client_name: String(m.client_name ?? ''),
    redirect_uris: lines(m.redirect_uris),
    grant_types: lines(m.grant_types).replace(/\n/g, ' '),
    scope: String(m.scope ?? ''),
  }
  const base = `/admin/clients/${encodeURIComponent(c.clientId)}`
  return html`<h1>${c.clientId}</h1>
${o.flash ? secretOnce(o.flash) : ''}
${formErrors(e, ['client_name', 'redirect_uris', 'grant_types', 'scope'])}
<dl class="props">
<dt>Authentication</dt><dd>${String(m.token_endpoint_auth_method ?? '')}</dd>
<dt>Admin roles</dt><dd>${c.adminRoles?.join(', ') || '—'}</dd>
<dt>Created</dt><dd>${when(c.createdAt)}</dd>
</dl>
<h2>Settings</h2>
<form method="post" action="${base}" novalidate>
<input type="hidden" name="csrf" value="${o.csrf}"><input type="hidden" name="etag" value="${c.etag}">
${metadataFields(v, e)}
<button type="submit">Save</button>
</form>
<h2>Actions</h2>
${c.hasSecret ? html`<a class="button-link first" href="${base}/rotate">Rotate secret…</a>` : ''}
<a class="button-link" href="${base}/delete">Delete…</a>
${o.canContain ? html`<a class="button-link" href="${base}/contain">Contain…</a>` : ''}`
}
