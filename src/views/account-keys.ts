import { html } from './html.ts'
import { fieldError, page } from './layout.ts'
import { describedBy } from './strong-login.ts'

/** A key as the account page lists it: never its secret. */
export interface KeyRow {
  id: string
  name: string
  scopes: string[]
  level: string
  status: string
  createdAt: Date
  expiresAt: Date
  lastUsedAt: Date | null
  lastUsedIp: string | null
  allowedIps: string[]
  signing: string | null
}

export interface KeysView {
  csrf: string
  keys: KeyRow[]
  /** scopes this user holds and may give a key (a key never has more rights than its owner) */
  grantable: { name: string; description?: string; management: boolean }[]
  /** the user has a second factor: a management scope asks for a fresh one */
  stepUp?: boolean
  levels: { name: string; maxDays: number; rule: string }[]
  notice?: string
  /** the create form, echoed back with its problems */
  form?: { name?: string; scopes?: string[]; level?: string; days?: string; allowed_ips?: string; rate_limit?: string; signing?: boolean }
  errors?: Partial<Record<'name' | 'scopes' | 'level' | 'days' | 'allowed_ips' | 'rate_limit' | 'signing' | 'second_factor' | 'form', string>>
}

const when = (d: Date) => d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC'
const STATUS: Record<string, string> = { active: 'Active', rotated: 'Rotating: the old key works until its grace period ends (see expires)', expired: 'Expired', revoked: 'Revoked', pending_approval: 'Waiting for an administrator' }

function keyTable(p: KeysView) {
  if (!p.keys.length) return html`<p class="muted">You have no API keys.</p>`
  return html`<table><thead><tr><th scope="col">Name</th><th scope="col">Scopes and level</th><th scope="col">Status</th><th scope="col">Used</th><th scope="col"><span class="muted">Actions</span></th></tr></thead><tbody>
${p.keys.map((k) => {
    const live = k.status === 'active' || k.status === 'pending_approval'
    return html`<tr><td>${k.name}<br><code class="hint">pcs_${k.id}_…</code></td>
<td>${k.scopes.join(' ') || html`<span class="muted">no scopes</span>`}<br><span class="hint">${k.level}${k.allowedIps.length ? ` · from ${k.allowedIps.join(', ')}` : ''}${k.signing ? ` · signed (${k.signing})` : ''}</span></td>
<td>${STATUS[k.status] ?? k.status}<br><span class="hint">created ${when(k.createdAt)}, expires ${when(k.expiresAt)}</span></td>
<td>${k.lastUsedAt ? html`${when(k.lastUsedAt)}<br><span class="hint">${k.lastUsedIp ?? ''}</span>` : 'never'}</td>
<td>${live
    ? html`<form method="post" action="/account/keys/${k.id}/rotate"><input type="hidden" name="csrf" value="${p.csrf}"><button type="submit" class="secondary" aria-label="Rotate ${k.name}">Rotate</button></form>
<form method="post" action="/account/keys/${k.id}/revoke"><input type="hidden" name="csrf" value="${p.csrf}"><button type="submit" class="secondary" aria-label="Revoke ${k.name}">Revoke</button></form>`
    : k.status === 'rotated'
      ? html`<form method="post" action="/account/keys/${k.id}/revoke"><input type="hidden" name="csrf" value="${p.csrf}"><button type="submit" class="secondary" aria-label="Revoke ${k.name}">Revoke now</button></form>`
      : ''}</td></tr>`
  })}
</tbody></table>`
}

/** `/account/keys`: the user's personal API keys and the form for a new one. */
export function accountKeysPage(p: KeysView) {
  const f = p.form ?? {}
  const e = p.errors ?? {}
  const level = f.level ?? 'LOW'
  return page('API keys', html`
<nav class="top"><h1>API keys</h1><a href="/account">Back to your account</a></nav>
${p.notice ? html`<p class="notice" role="status">${p.notice}</p>` : ''}
<p>Personal API keys let programs call portcullis's APIs as you. A key has at most the rights you
have, and its secret is shown once, when it is created.</p>

<section aria-labelledby="keys-h"><h2 id="keys-h">Your keys</h2>
${keyTable(p)}
</section>

<section aria-labelledby="new-key-h"><h2 id="new-key-h">New key</h2>
${fieldError('form-error', e.form)}
<form method="post" action="/account/keys" novalidate>
  <input type="hidden" name="csrf" value="${p.csrf}">
  <label for="key_name">Name</label>
  <input id="key_name" name="name" type="text" maxlength="100" required value="${f.name ?? ''}" ${describedBy('name-error', Boolean(e.name))}>
  ${fieldError('name-error', e.name)}

  <fieldset ${describedBy('scopes-error', Boolean(e.scopes))}><legend>Scopes</legend>
  ${p.grantable.length
    ? p.grantable.map((s, i) => html`<label class="check"><input type="checkbox" name="scopes" value="${s.name}" ${f.scopes?.includes(s.name) ? 'checked' : ''} aria-describedby="scope-${i}-hint"> <code>${s.name}</code>${s.management ? html` <strong>(management)</strong>` : ''}</label>
  <p class="hint" id="scope-${i}-hint">${s.description ?? 'No description.'}</p>`)
    : html`<p class="muted">You hold no scopes a key could carry; the key can still identify you. An administrator grants scopes through your roles.</p>`}
  </fieldset>
  ${fieldError('scopes-error', e.scopes)}
${p.stepUp ? html`
  <label for="key_second_factor">Second factor (for management scopes)</label>
  <input id="key_second_factor" name="second_factor" type="text" autocomplete="one-time-code" inputmode="text" maxlength="64" spellcheck="false" aria-describedby="second-factor-hint${e.second_factor ? ' second-factor-error' : ''}" ${e.second_factor ? 'aria-invalid="true"' : ''}>
  <p class="hint" id="second-factor-hint">A key with a management scope needs a code from your authenticator app or a recovery code, unless you signed in with your second factor in the last 5 minutes.</p>
  ${fieldError('second-factor-error', e.second_factor)}` : ''}

  <label for="key_level">Security level</label>
  <select id="key_level" name="level" aria-describedby="level-hint${e.level ? ' level-error' : ''}">
  ${p.levels.map((l) => html`<option value="${l.name}" ${l.name === level ? 'selected' : ''}>${l.name}</option>`)}
  </select>
  <ul class="hint" id="level-hint">${p.levels.map((l) => html`<li><strong>${l.name}</strong>: at most ${l.maxDays} days; ${l.rule}</li>`)}</ul>
  ${fieldError('level-error', e.level)}

  <label for="key_days">Expires after (days)</label>
  <input id="key_days" name="days" type="number" min="1" max="365" inputmode="numeric" value="${f.days ?? ''}" aria-describedby="days-hint${e.days ? ' days-error' : ''}">
  <p class="hint" id="days-hint">Empty: the longest the level allows.</p>
  ${fieldError('days-error', e.days)}

  <label for="key_ips">Allowed IP addresses</label>
  <textarea id="key_ips" name="allowed_ips" rows="2" aria-describedby="ips-hint${e.allowed_ips ? ' ips-error' : ''}">${f.allowed_ips ?? ''}</textarea>
  <p class="hint" id="ips-hint">IPv4 or IPv6 addresses or CIDR ranges, one per line or comma-separated. Required for HIGH and CRITICAL.</p>
  ${fieldError('ips-error', e.allowed_ips)}

  <label for="key_rate">Rate limit (requests per minute)</label>
  <input id="key_rate" name="rate_limit" type="number" min="1" inputmode="numeric" value="${f.rate_limit ?? ''}" aria-describedby="rate-hint${e.rate_limit ? ' rate-error' : ''}">
  <p class="hint" id="rate-hint">Empty: no limit of its own.</p>
  ${fieldError('rate-error', e.rate_limit)}

  <label class="check"><input id="key_signing" type="checkbox" name="signing" value="hmac-sha256" ${f.signing ? 'checked' : ''} aria-describedby="signing-hint${e.signing ? ' signing-error' : ''}" aria-invalid="${e.signing ? 'true' : 'false'}"> Require signed requests (HMAC-SHA256)</label>
  <p class="hint" id="signing-hint">Required for CRITICAL. You get a separate signing secret, also shown once.</p>
  ${fieldError('signing-error', e.signing)}

  <button type="submit">Create key</button>
</form></section>`, { wide: true })
}

/** The one time a key's secret is shown (after create or rotate). Served with no-store. */
export function keySecretPage(p: { title: string; key: string; signingSecret?: string; name: string; note?: string }) {
  return page(p.title, html`
<h1>${p.title}</h1>
<p>Copy the key for <strong>${p.name}</strong> now. <strong>It will not be shown again</strong>; if you lose it, rotate or revoke it and create another.</p>
<label for="new_key">API key</label>
<input id="new_key" class="secret" type="text" readonly value="${p.key}" autocomplete="off" spellcheck="false">
${p.signingSecret ? html`<label for="new_signing_secret">Signing secret (HMAC-SHA256)</label>
<input id="new_signing_secret" class="secret" type="text" readonly value="${p.signingSecret}" autocomplete="off" spellcheck="false">` : ''}
${p.note ? html`<p class="notice" role="status">${p.note}</p>` : ''}
<p>Use it as <code>Authorization: Bearer &lt;key&gt;</code>.</p>
<p><a href="/account/keys">Back to your API keys</a></p>`)
}

/** Revoking needs a second, explicit step: programs using the key stop working at once. */
export function revokeKeyPage(p: { csrf: string; id: string; name: string }) {
  return page('Revoke API key', html`
<h1>Revoke “${p.name}”?</h1>
<p>Programs using this key stop working immediately, on every server. This cannot be undone.</p>
<form method="post" action="/account/keys/${p.id}/revoke">
  <input type="hidden" name="csrf" value="${p.csrf}">
  <input type="hidden" name="confirm" value="yes">
  <button type="submit">Revoke key</button>
</form>
<p><a href="/account/keys">Cancel</a></p>`)
}
