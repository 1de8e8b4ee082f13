import { html } from './html.ts'
import { fieldError, page } from './layout.ts'
import { describedBy } from './strong-login.ts'
import { hasKey, t, tHtml } from './i18n.ts'

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
  form?: {
    name?: string
    scopes?: string[]
    level?: string
    days?: string
    allowed_ips?: string
    rate_limit?: string
    signing?: boolean
  }
  errors?: Partial<
    Record<
      'name' | 'scopes' | 'level' | 'days' | 'allowed_ips' | 'rate_limit' | 'signing' | 'second_factor' | 'form',
      string
    >
  >
}

const when = (d: Date) => d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC'
/** A key's status in words (`keys.status.<status>` in the catalogues). */
const statusName = (s: string) => (hasKey(`keys.status.${s}`) ? t(`keys.status.${s}`) : s)

function keyTable(p: KeysView) {
  if (!p.keys.length) return html`<p class="muted">${t('keys.none')}</p>`
  return html`<table><thead><tr><th scope="col">${t('common.name')}</th><th scope="col">${t('keys.scopesAndLevel')}</th><th scope="col">${t('keys.statusHeading')}</th><th scope="col">${t('keys.used')}</th><th scope="col"><span class="muted">${t('keys.actions')}</span></th></tr></thead><tbody>
${p.keys.map((k) => {
  const live = k.status === 'active' || k.status === 'pending_approval'
  return html`<tr><td>${k.name}<br><code class="hint">pcs_${k.id}_…</code></td>
<td>${k.scopes.join(' ') || html`<span class="muted">${t('keys.noScopes')}</span>`}<br><span class="hint">${k.level}${k.allowedIps.length ? ` · ${t('keys.from', { ips: k.allowedIps.join(', ') })}` : ''}${k.signing ? ` · ${t('keys.signed', { alg: k.signing })}` : ''}</span></td>
<td>${statusName(k.status)}<br><span class="hint">${t('keys.createdExpires', { created: when(k.createdAt), expires: when(k.expiresAt) })}</span></td>
<td>${k.lastUsedAt ? html`${when(k.lastUsedAt)}<br><span class="hint">${k.lastUsedIp ?? ''}</span>` : t('common.never')}</td>
<td>${
    live
      ? html`<form method="post" action="/account/keys/${k.id}/rotate"><input type="hidden" name="csrf" value="${p.csrf}"><button type="submit" class="secondary" aria-label="${t('keys.rotateNamed', { name: k.name })}">${t('keys.rotate')}</button></form>
<form method="post" action="/account/keys/${k.id}/revoke"><input type="hidden" name="csrf" value="${p.csrf}"><button type="submit" class="secondary" aria-label="${t('keys.revokeNamed', { name: k.name })}">${t('keys.revoke')}</button></form>`
      : k.status === 'rotated'
        ? html`<form method="post" action="/account/keys/${k.id}/revoke"><input type="hidden" name="csrf" value="${p.csrf}"><button type="submit" class="secondary" aria-label="${t('keys.revokeNamed', { name: k.name })}">${t('keys.revokeNow')}</button></form>`
        : ''
  }</td></tr>`
})}
</tbody></table>`
}

/** `/account/keys`: the user's personal API keys and the form for a new one. */
export function accountKeysPage(p: KeysView) {
  const f = p.form ?? {}
  const e = p.errors ?? {}
  const level = f.level ?? 'LOW'
  return page(
    t('keys.title'),
    html`
<nav class="top"><h1>${t('keys.title')}</h1><a href="/account">${t('common.backToAccount')}</a></nav>
${p.notice ? html`<p class="notice" role="status">${p.notice}</p>` : ''}
<p>${t('keys.intro')}</p>

<section aria-labelledby="keys-h"><h2 id="keys-h">${t('keys.yours')}</h2>
${keyTable(p)}
</section>

<section aria-labelledby="new-key-h"><h2 id="new-key-h">${t('keys.new')}</h2>
${fieldError('form-error', e.form)}
<form method="post" action="/account/keys" novalidate>
  <input type="hidden" name="csrf" value="${p.csrf}">
  <label for="key_name">${t('common.name')}</label>
  <input id="key_name" name="name" type="text" maxlength="100" required value="${f.name ?? ''}" ${describedBy('name-error', Boolean(e.name))}>
  ${fieldError('name-error', e.name)}

  <fieldset ${describedBy('scopes-error', Boolean(e.scopes))}><legend>${t('keys.scopes')}</legend>
  ${
    p.grantable.length
      ? p.grantable.map(
          (
            s,
            i,
          ) => html`<label class="check"><input type="checkbox" name="scopes" value="${s.name}" ${f.scopes?.includes(s.name) ? 'checked' : ''} aria-describedby="scope-${i}-hint"> <code>${s.name}</code>${s.management ? html` <strong>${t('keys.management')}</strong>` : ''}</label>
  <p class="hint" id="scope-${i}-hint">${s.description ?? t('keys.noDescription')}</p>`,
        )
      : html`<p class="muted">${t('keys.noGrantable')}</p>`
  }
  </fieldset>
  ${fieldError('scopes-error', e.scopes)}
${
  p.stepUp
    ? html`
  <label for="key_second_factor">${t('keys.secondFactor')}</label>
  <input id="key_second_factor" name="second_factor" type="text" autocomplete="one-time-code" inputmode="text" maxlength="64" spellcheck="false" aria-describedby="second-factor-hint${e.second_factor ? ' second-factor-error' : ''}" ${e.second_factor ? 'aria-invalid="true"' : ''}>
  <p class="hint" id="second-factor-hint">${t('keys.secondFactorHint')}</p>
  ${fieldError('second-factor-error', e.second_factor)}`
    : ''
}

  <label for="key_level">${t('keys.level')}</label>
  <select id="key_level" name="level" aria-describedby="level-hint${e.level ? ' level-error' : ''}">
  ${p.levels.map((l) => html`<option value="${l.name}" ${l.name === level ? 'selected' : ''}>${l.name}</option>`)}
  </select>
  <ul class="hint" id="level-hint">${p.levels.map((l) => html`<li>${tHtml('keys.levelLine', { level: l.name, count: l.maxDays, rule: l.rule })}</li>`)}</ul>
  ${fieldError('level-error', e.level)}

  <label for="key_days">${t('keys.days')}</label>
  <input id="key_days" name="days" type="number" min="1" max="365" inputmode="numeric" value="${f.days ?? ''}" aria-describedby="days-hint${e.days ? ' days-error' : ''}">
  <p class="hint" id="days-hint">${t('keys.daysHint')}</p>
  ${fieldError('days-error', e.days)}

  <label for="key_ips">${t('keys.ips')}</label>
  <textarea id="key_ips" name="allowed_ips" rows="2" aria-describedby="ips-hint${e.allowed_ips ? ' ips-error' : ''}">${f.allowed_ips ?? ''}</textarea>
  <p class="hint" id="ips-hint">${t('keys.ipsHint')}</p>
  ${fieldError('ips-error', e.allowed_ips)}

  <label for="key_rate">${t('keys.rate')}</label>
  <input id="key_rate" name="rate_limit" type="number" min="1" inputmode="numeric" value="${f.rate_limit ?? ''}" aria-describedby="rate-hint${e.rate_limit ? ' rate-error' : ''}">
  <p class="hint" id="rate-hint">${t('keys.rateHint')}</p>
  ${fieldError('rate-error', e.rate_limit)}

  <label class="check"><input id="key_signing" type="checkbox" name="signing" value="hmac-sha256" ${f.signing ? 'checked' : ''} aria-describedby="signing-hint${e.signing ? ' signing-error' : ''}" aria-invalid="${e.signing ? 'true' : 'false'}"> ${t('keys.signing')}</label>
  <p class="hint" id="signing-hint">${t('keys.signingHint')}</p>
  ${fieldError('signing-error', e.signing)}

  <button type="submit">${t('keys.create')}</button>
</form></section>`,
    { wide: true },
  )
}

/** The one time a key's secret is shown (after create or rotate). Served with no-store. */
export function keySecretPage(p: { title: string; key: string; signingSecret?: string; name: string; note?: string }) {
  return page(
    p.title,
    html`
<h1>${p.title}</h1>
<p>${tHtml('keys.secret.copy', { name: p.name })}</p>
<label for="new_key">${t('keys.secret.key')}</label>
<input id="new_key" class="secret" type="text" readonly value="${p.key}" autocomplete="off" spellcheck="false">
${
  p.signingSecret
    ? html`<label for="new_signing_secret">${t('keys.secret.signing')}</label>
<input id="new_signing_secret" class="secret" type="text" readonly value="${p.signingSecret}" autocomplete="off" spellcheck="false">`
    : ''
}
${p.note ? html`<p class="notice" role="status">${p.note}</p>` : ''}
<p>${tHtml('keys.secret.use')}</p>
<p><a href="/account/keys">${t('keys.back')}</a></p>`,
  )
}

/** Revoking needs a second, explicit step: programs using the key stop working at once. */
export function revokeKeyPage(p: { csrf: string; id: string; name: string }) {
  return page(
    t('keys.revokeTitle'),
    html`
<h1>${t('keys.revokeHeading', { name: p.name })}</h1>
<p>${t('keys.revokeWarning')}</p>
<form method="post" action="/account/keys/${p.id}/revoke">
  <input type="hidden" name="csrf" value="${p.csrf}">
  <input type="hidden" name="confirm" value="yes">
  <button type="submit">${t('keys.revokeSubmit')}</button>
</form>
<p><a href="/account/keys">${t('common.cancel')}</a></p>`,
  )
}
