import { html, type SafeHtml } from './html.ts'
import { fieldError, page } from './layout.ts'
import { describedBy, passkeyButton, recoveryCodesBlock, totpEnrolment } from './strong-login.ts'
import type { FactorView } from '../identity/mfa.ts'
import { hasKey, t } from './i18n.ts'

export interface AccountView {
  csrf: string
  user: { email: string; name: string | null; emailVerified?: boolean }
  factors: FactorView[]
  recoveryLeft: number
  sessions: {
    id: string
    current: boolean
    userAgent: string | null
    ip: string | null
    createdAt: Date
    lastSeenAt: Date
    amr: string[]
  }[]
  events: { time: Date; action: string; outcome: string; ip: string | null; details: Record<string, unknown> }[]
  notice?: string
  errors?: { profile?: string; password?: string[]; factor?: string; email?: string }
  minLength: number
}

const when = (d: Date) => d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC'

/** A short, human name for a browser from its User-Agent (falls back to the raw string). */
export function deviceName(ua: string | null) {
  if (!ua) return t('account.unknownDevice')
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /Firefox\//.test(ua)
      ? 'Firefox'
      : /Chrom(e|ium)\//.test(ua)
        ? 'Chrome'
        : /Safari\//.test(ua)
          ? 'Safari'
          : undefined
  const os = /Windows/.test(ua)
    ? 'Windows'
    : /Android/.test(ua)
      ? 'Android'
      : /iPhone|iPad/.test(ua)
        ? 'iOS'
        : /Mac OS X/.test(ua)
          ? 'macOS'
          : /Linux/.test(ua)
            ? 'Linux'
            : undefined
  return browser ? (os ? t('account.browserOn', { browser, os }) : browser) : ua.slice(0, 60)
}

/** An audit action as the account page names it (`account.event.<action>` in the catalogues). */
const eventName = (action: string) => {
  const key = `account.event.${action.replace(/\./g, '_')}`
  return hasKey(key) ? t(key) : action
}
/** An audit outcome in words. */
const outcomeName = (outcome: string) =>
  hasKey(`account.outcome.${outcome}`) ? t(`account.outcome.${outcome}`) : outcome

function factorRows(p: AccountView, type: 'totp' | 'webauthn'): SafeHtml {
  const list = p.factors.filter((f) => f.type === type)
  if (!list.length) return html`<p class="muted">${t('account.noneYet')}</p>`
  return html`<table><thead><tr><th scope="col">${t('common.name')}</th><th scope="col">${t('account.added')}</th><th scope="col">${t('account.lastUsed')}</th><th scope="col"><span class="muted">${t('account.action')}</span></th></tr></thead><tbody>
${list.map(
  (
    f,
  ) => html`<tr><td>${f.name}</td><td>${when(f.createdAt)}</td><td>${f.lastUsedAt ? when(f.lastUsedAt) : t('common.never')}</td>
<td><details class="rename"><summary>${t('account.rename')}</summary><form method="post" action="/account/factors/${f.id}/rename"><input type="hidden" name="csrf" value="${p.csrf}">
<label for="rename-${f.id}">${t('account.newNameFor', { name: f.name })}</label><input id="rename-${f.id}" name="name" type="text" maxlength="64" value="${f.name}" required>
<button type="submit" class="secondary small">${t('account.saveName')}</button></form></details>
<form method="post" action="/account/factors/${f.id}/delete"><input type="hidden" name="csrf" value="${p.csrf}"><button type="submit" class="secondary" aria-label="${t('account.removeNamed', { name: f.name })}">${t('account.remove')}</button></form></td></tr>`,
)}
</tbody></table>`
}

export function accountPage(p: AccountView) {
  const pwErr = p.errors?.password?.length ? p.errors.password.join(' ') : undefined
  return page(
    t('common.yourAccount'),
    html`
<nav class="top"><h1>${t('common.yourAccount')}</h1>
<a href="/account/keys">${t('keys.title')}</a>
<form method="post" action="/account/logout"><input type="hidden" name="csrf" value="${p.csrf}"><button type="submit" class="secondary small">${t('account.signOut')}</button></form></nav>
${p.notice ? html`<p class="notice" role="status">${p.notice}</p>` : ''}

<section aria-labelledby="profile-h"><h2 id="profile-h">${t('account.profile')}</h2>
<form method="post" action="/account/profile" novalidate>
  <input type="hidden" name="csrf" value="${p.csrf}">
  <label for="email">${t('common.email')}</label>
  <input id="email" type="email" value="${p.user.email}" readonly aria-describedby="email-hint">
  <p class="hint" id="email-hint">${p.user.emailVerified === undefined ? t('account.emailAskAdmin') : t('account.emailSeeBelow')}</p>
  <label for="name">${t('common.name')}</label>
  <input id="name" name="name" type="text" autocomplete="name" maxlength="200" value="${p.user.name ?? ''}" ${describedBy('profile-error', Boolean(p.errors?.profile))}>
  ${fieldError('profile-error', p.errors?.profile)}
  <button type="submit">${t('account.saveProfile')}</button>
</form>
${
  p.user.emailVerified === undefined
    ? ''
    : p.user.emailVerified
      ? html`<p class="muted" id="email-status">${t('account.notice.verified')}</p>`
      : html`<form method="post" action="/account/email/verify"><input type="hidden" name="csrf" value="${p.csrf}">
<p id="email-status">${t('account.notVerified')}</p>
<button type="submit" class="secondary">${t('account.sendVerification')}</button></form>`
}
${
  p.user.emailVerified === undefined
    ? ''
    : html`<details${p.errors?.email ? ' open' : ''} id="change-email"><summary>${t('account.changeEmail')}</summary>
<form method="post" action="/account/email" novalidate>
  <input type="hidden" name="csrf" value="${p.csrf}">
  <label for="new_email">${t('account.newEmail')}</label>
  <input id="new_email" name="new_email" type="email" autocomplete="email" maxlength="320" required ${describedBy('email-error', Boolean(p.errors?.email))}>
  <label for="email_current_password">${t('account.yourPassword')}</label>
  <input id="email_current_password" name="current_password" type="password" autocomplete="current-password" required>
  ${fieldError('email-error', p.errors?.email)}
  <p class="hint">${t('account.changeEmailHint')}</p>
  <button type="submit" class="secondary">${t('account.sendConfirmation')}</button>
</form></details>`
}
</section>

<section aria-labelledby="password-h"><h2 id="password-h">${t('common.password')}</h2>
<form method="post" action="/account/password" novalidate>
  <input type="hidden" name="csrf" value="${p.csrf}">
  <input type="text" name="username" autocomplete="username" value="${p.user.email}" hidden>
  <label for="current_password">${t('account.currentPassword')}</label>
  <input id="current_password" name="current_password" type="password" autocomplete="current-password" required ${describedBy('password-error', Boolean(pwErr))}>
  <label for="new_password">${t('password.new')}</label>
  <input id="new_password" name="new_password" type="password" autocomplete="new-password" required maxlength="128" aria-describedby="new-password-hint${pwErr ? ' password-error' : ''}" aria-invalid="${pwErr ? 'true' : 'false'}">
  <p class="hint" id="new-password-hint">${t('account.passwordHint', { count: p.minLength })}</p>
  <label for="confirm_password">${t('password.repeat')}</label>
  <input id="confirm_password" name="confirm_password" type="password" autocomplete="new-password" required ${describedBy('password-error', Boolean(pwErr))}>
  ${fieldError('password-error', pwErr)}
  <button type="submit">${t('account.changePassword')}</button>
</form></section>

<section aria-labelledby="mfa-h"><h2 id="mfa-h">${t('account.mfa')}</h2>
${p.errors?.factor ? html`<p class="error" role="alert">${p.errors.factor}</p>` : ''}
<h3>${t('account.apps')}</h3>
${factorRows(p, 'totp')}
<form method="get" action="/account/totp"><button type="submit" class="secondary">${t('account.addApp')}</button></form>
<h3>${t('account.passkeys')}</h3>
${factorRows(p, 'webauthn')}
<label for="passkey_name">${t('account.passkeyName')}</label>
<input id="passkey_name" type="text" maxlength="64" value="${t('passkey.defaultName')}">
${passkeyButton({ mode: 'register', id: 'passkey-add', options: '/account/passkeys/options', verify: '/account/passkeys', csrf: p.csrf, label: t('account.addPasskey'), nameInput: 'passkey_name', secondary: true })}
<h3>${t('account.recoveryCodes')}</h3>
${
  p.factors.length
    ? html`<p>${t('account.codesLeft', { count: p.recoveryLeft, total: 10 })}</p>
<form method="post" action="/account/recovery-codes"><input type="hidden" name="csrf" value="${p.csrf}"><button type="submit" class="secondary">${t('account.newCodes')}</button></form>
<p class="hint">${t('account.newCodesHint')}</p>`
    : html`<p class="muted">${t('account.factorFirst')}</p>`
}
</section>

<section aria-labelledby="sessions-h"><h2 id="sessions-h">${t('account.sessions')}</h2>
<table><thead><tr><th scope="col">${t('account.device')}</th><th scope="col">${t('account.ip')}</th><th scope="col">${t('account.lastSeen')}</th><th scope="col"><span class="muted">${t('account.action')}</span></th></tr></thead><tbody>
${p.sessions.map(
  (
    s,
  ) => html`<tr><td>${deviceName(s.userAgent)}${s.current ? html` <strong>${t('account.thisBrowser')}</strong>` : ''}<br><span class="hint">${t('account.signedInAt', { when: when(s.createdAt) })} · ${s.amr.join(', ')}</span></td><td>${s.ip ?? ''}</td><td>${when(s.lastSeenAt)}</td>
<td>${s.current ? '' : html`<form method="post" action="/account/sessions/${s.id}/revoke"><input type="hidden" name="csrf" value="${p.csrf}"><button type="submit" class="secondary" aria-label="${t('account.signOutNamed', { device: deviceName(s.userAgent) })}">${t('account.signOut')}</button></form>`}</td></tr>`,
)}
</tbody></table>
<form method="post" action="/account/sessions/revoke-all"><input type="hidden" name="csrf" value="${p.csrf}"><button type="submit" class="secondary">${t('account.signOutEverywhere')}</button></form>
</section>

<section aria-labelledby="events-h"><h2 id="events-h">${t('account.events')}</h2>
${
  p.events.length
    ? html`<table><thead><tr><th scope="col">${t('account.when')}</th><th scope="col">${t('account.what')}</th><th scope="col">${t('account.result')}</th><th scope="col">${t('account.ip')}</th></tr></thead><tbody>
${p.events.map((e) => html`<tr><td>${when(e.time)}</td><td>${eventName(e.action)}${e.details.method ? html` <span class="hint">(${String(e.details.method)})</span>` : ''}</td><td>${outcomeName(e.outcome)}</td><td>${e.ip ?? ''}</td></tr>`)}
</tbody></table>`
    : html`<p class="muted">${t('account.noEvents')}</p>`
}
</section>`,
    { wide: true, scripts: ['/assets/webauthn.js'] },
  )
}

export function accountTotpPage(p: { csrf: string; qr: string; secret: string; error?: string }) {
  return page(
    t('account.addApp'),
    html`
<h1>${t('account.addApp')}</h1>
${totpEnrolment({ action: '/account/totp', csrf: p.csrf, qr: p.qr, secret: p.secret, error: p.error, withName: true, submit: t('account.addAppSubmit') })}
<p><a href="/account">${t('common.backToAccount')}</a></p>`,
  )
}

export function accountCodesPage(p: { codes: string[] }) {
  return page(
    t('codes.title'),
    html`
<h1>${t('codes.title')}</h1>
${recoveryCodesBlock(p.codes)}
<p><a href="/account">${t('common.backToAccount')}</a></p>`,
  )
}

export function signedOutPage(everywhere: boolean) {
  return page(
    t('logout.doneTitle'),
    html`<h1>${t('logout.doneHeading')}</h1><p>${t(everywhere ? 'account.endedEverywhere' : 'account.endedHere')}</p><p><a href="/account">${t('error.signInAgain')}</a></p>`,
  )
}
