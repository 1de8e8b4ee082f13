import { html, type SafeHtml } from '../../../views/html.ts'
import { actionButton, checkbox, field, formErrors, secretOnce, when } from './layout.ts'
import type { ConsoleSession } from '../session.ts'

export interface UserRow {
  id: string
  email: string
  name: string | null
  roles: string[]
  disabled: boolean
  emailVerified: boolean
  mustChangePassword: boolean
  mustVerifyEmail?: boolean
  hasPassword: boolean
  createdAt: string
  lastLoginAt: string | null
  etag: string
  adminRoles?: string[]
}
type Flash = ConsoleSession['flash']

/** The list: a search form that htmx re-submits as one types (full page loads work without JS). */
export function usersListBody(o: {
  term: string
  status: string
  items: UserRow[]
  nextCursor?: string
  paged: boolean
  error?: string
  canWrite: boolean
}): SafeHtml {
  const qs = (extra: Record<string, string>) =>
    `/admin/users?${new URLSearchParams({ ...(o.term ? { q: o.term } : {}), ...(o.status ? { status: o.status } : {}), ...extra })}`
  return html`<h1>Users</h1>
${o.canWrite ? html`<p><a class="button-link first" href="/admin/users/new">New user</a></p>` : ''}
<form role="search" method="get" action="/admin/users" hx-get="/admin/users" hx-trigger="input changed delay:300ms from:#f-q, change from:#f-status" hx-target="#results" hx-select="#results" hx-swap="outerHTML" hx-push-url="true">
<label for="f-q">Search by email</label>
<input id="f-q" name="q" type="search" value="${o.term}" autocomplete="off">
<label for="f-status">Status</label>
<select id="f-status" name="status">
<option value=""${o.status === '' ? html` selected` : ''}>Any</option>
<option value="active"${o.status === 'active' ? html` selected` : ''}>Active</option>
<option value="disabled"${o.status === 'disabled' ? html` selected` : ''}>Disabled</option>
</select>
<button type="submit">Search</button>
</form>
<div id="results" aria-live="polite">
${o.error ? html`<p class="error" role="alert">${o.error}</p>` : ''}
<table>
<caption class="hint">${o.items.length ? `${o.items.length} user${o.items.length === 1 ? '' : 's'} on this page` : 'No users match'}</caption>
<thead><tr><th scope="col">Email</th><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Created</th><th scope="col">Last sign-in</th></tr></thead>
<tbody>
${o.items.map((u) => html`<tr><td><a href="/admin/users/${encodeURIComponent(u.id)}">${u.email}</a></td><td>${u.name ?? ''}</td><td>${u.disabled ? html`<span class="badge off">disabled</span>` : html`<span class="badge">active</span>`}</td><td>${when(u.createdAt)}</td><td>${when(u.lastLoginAt)}</td></tr>`)}
</tbody>
</table>
<nav class="pager" aria-label="Pages">
${o.paged ? html`<a href="${qs({})}">First page</a>` : ''}
${o.nextCursor ? html`<a href="${qs({ cursor: o.nextCursor })}" rel="next">Next page</a>` : ''}
</nav>
</div>`
}

export function userFormBody(csrf: string, v: Record<string, string>, errors: Record<string, string>): SafeHtml {
  const invite = v.initial !== 'password'
  return html`<h1>New user</h1>
${formErrors(errors, ['email', 'name'])}
<form method="post" action="/admin/users" novalidate>
<input type="hidden" name="csrf" value="${csrf}">
${field({ name: 'email', label: 'Email', type: 'email', value: v.email, error: errors.email, required: true, autocomplete: 'off' })}
${field({ name: 'name', label: 'Name (optional)', value: v.name, error: errors.name, autocomplete: 'off' })}
<fieldset><legend>First sign-in</legend>
<div class="check"><input type="radio" id="f-invite" name="initial" value="invite"${invite ? html` checked` : ''}><label for="f-invite">Invitation link (the user sets a password)</label></div>
<div class="check"><input type="radio" id="f-password" name="initial" value="password"${invite ? '' : html` checked`}><label for="f-password">Generated initial password (changed at first sign-in)</label></div>
</fieldset>
<button type="submit">Create user</button>
</form>`
}

export function userDetailBody(o: {
  csrf: string
  user: UserRow
  sessions?: { id: string; createdAt: string; lastSeenAt: string; ip: string | null; userAgent: string | null }[]
  flash?: Flash
  errors?: Record<string, string>
  values?: Record<string, string>
  canContain?: boolean
}): SafeHtml {
  const u = o.user
  const e = o.errors ?? {}
  const v = o.values ?? {}
  const base = `/admin/users/${encodeURIComponent(u.id)}`
  return html`<h1>${u.email}</h1>
${o.flash ? secretOnce(o.flash) : ''}
${formErrors(e, ['name'])}
<dl class="props">
<dt>Status</dt><dd>${u.disabled ? 'disabled' : 'active'}${u.mustChangePassword ? ' · must change password' : ''}${u.mustVerifyEmail && !u.emailVerified ? ' · must verify email before signing in' : ''}</dd>
<dt>Roles</dt><dd>${u.roles.join(', ') || '—'}</dd>
<dt>Admin roles</dt><dd>${u.adminRoles?.join(', ') || '—'}</dd>
<dt>Created</dt><dd>${when(u.createdAt)}</dd>
<dt>Last sign-in</dt><dd>${when(u.lastLoginAt)}</dd>
</dl>
<h2>Profile</h2>
<form method="post" action="${base}" novalidate>
<input type="hidden" name="csrf" value="${o.csrf}"><input type="hidden" name="etag" value="${u.etag}">
${field({ name: 'name', label: 'Name', value: v.name ?? u.name ?? '', error: e.name })}
${checkbox('emailVerified', 'Email address verified', v.emailVerified !== undefined ? v.emailVerified === 'yes' : u.emailVerified)}
<button type="submit">Save</button>
</form>
<h2>Actions</h2>
<div>
${u.disabled ? actionButton(`${base}/enable`, o.csrf, 'Enable') : actionButton(`${base}/disable`, o.csrf, 'Disable')}
${actionButton(`${base}/unlock`, o.csrf, 'Unlock')}
${actionButton(`${base}/reset-mfa`, o.csrf, 'Reset MFA')}
${actionButton(`${base}/reset-password`, o.csrf, 'Reset password')}
<a class="button-link" href="${base}/delete">Delete…</a>
${o.canContain ? html`<a class="button-link" href="${base}/contain">Contain…</a>` : ''}
</div>
<h2>Sessions</h2>
${
  o.sessions === undefined
    ? html`<p class="hint">You may not see this user's sessions.</p>`
    : o.sessions.length === 0
      ? html`<p>No live sessions.</p>`
      : html`<table>
<thead><tr><th scope="col">Started</th><th scope="col">Last seen</th><th scope="col">IP</th><th scope="col">Browser</th><th scope="col"><span class="hint">Action</span></th></tr></thead>
<tbody>${o.sessions.map((s) => html`<tr><td>${when(s.createdAt)}</td><td>${when(s.lastSeenAt)}</td><td>${s.ip ?? ''}</td><td>${(s.userAgent ?? '').slice(0, 80)}</td><td>${actionButton(`${base}/sessions/${encodeURIComponent(s.id)}/revoke`, o.csrf, 'End session')}</td></tr>`)}</tbody>
</table>`
}`
}

/** Helpdesk: the three account-help actions by email, without reading the user list. */
export function careBody(csrf: string, v: { email?: string }, error: string, flash?: Flash): SafeHtml {
  return html`<h1>Account help</h1>
${flash ? secretOnce(flash) : ''}
<p>Unlock a user, remove their second factors, or give them a temporary password.</p>
<form method="post" action="/admin/users/care" novalidate>
<input type="hidden" name="csrf" value="${csrf}">
${field({ name: 'email', label: 'User email', type: 'email', value: v.email, error: error || undefined, required: true, autocomplete: 'off' })}
<button type="submit" name="action" value="unlock">Unlock</button>
<button type="submit" name="action" value="reset-mfa" class="secondary">Reset MFA</button>
<button type="submit" name="action" value="reset-password" class="secondary">Reset password</button>
</form>`
}
