import { html } from '../../views/html.ts'
import { fieldError, page } from '../../views/layout.ts'
import { describedBy, passkeyButton, recoveryCodesBlock, totpEnrolment } from '../../views/strong-login.ts'
import { switchAccount } from './views.ts'
import { t } from '../../views/i18n.ts'

/** The second step of a sign-in: a code from the authenticator app, a passkey, or a recovery code. */
export function mfaPage(p: {
  uid: string
  csrf: string
  hasTotp: boolean
  hasPasskey: boolean
  notice?: string
  error?: string
  recoveryError?: string
  email?: string
}) {
  return page(
    t('mfa.title'),
    html`
<h1>${t('mfa.title')}</h1>
${p.notice ? html`<p class="muted">${p.notice}</p>` : ''}
${
  p.hasTotp
    ? html`
<form method="post" action="/interaction/${p.uid}/mfa" novalidate>
  <input type="hidden" name="csrf" value="${p.csrf}">
  <input type="hidden" name="method" value="totp">
  <label for="code">${t('mfa.codeLabel')}</label>
  <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*" maxlength="8" required autofocus ${describedBy('code-error', Boolean(p.error))}>
  ${fieldError('code-error', p.error)}
  <button type="submit">${t('mfa.verify')}</button>
</form>`
    : p.error
      ? html`<p class="error" role="alert">${p.error}</p>`
      : ''
}
${p.hasPasskey ? passkeyButton({ mode: 'authenticate', id: 'passkey-mfa', options: `/interaction/${p.uid}/mfa/passkey/options`, verify: `/interaction/${p.uid}/mfa/passkey`, csrf: p.csrf, label: t('mfa.usePasskey'), secondary: p.hasTotp }) : ''}
<details ${p.recoveryError ? 'open' : ''}>
  <summary>${t('mfa.useRecovery')}</summary>
  <form method="post" action="/interaction/${p.uid}/mfa" novalidate>
    <input type="hidden" name="csrf" value="${p.csrf}">
    <input type="hidden" name="method" value="recovery">
    <label for="recovery_code">${t('mfa.recoveryLabel')}</label>
    <input id="recovery_code" name="code" type="text" autocomplete="off" spellcheck="false" maxlength="20" required ${describedBy('recovery-error', Boolean(p.recoveryError))}>
    ${fieldError('recovery-error', p.recoveryError)}
    <button type="submit" class="secondary">${t('mfa.recoverySubmit')}</button>
  </form>
</details>
<form method="post" action="/interaction/${p.uid}/abort">
  <input type="hidden" name="csrf" value="${p.csrf}">
  <button type="submit" class="secondary">${t('common.cancel')}</button>
</form>
${p.email ? switchAccount({ uid: p.uid, csrf: p.csrf, email: p.email, pending: true }) : ''}`,
    { scripts: ['/assets/webauthn.js'] },
  )
}

/** Enrolment forced at sign-in (MFA required by an administrator or by the application). */
export function enrolPage(p: {
  uid: string
  csrf: string
  qr: string
  secret: string
  error?: string
  reason: string
}) {
  return page(
    t('enrol.title'),
    html`
<h1>${t('enrol.title')}</h1>
<p class="muted">${p.reason}</p>
${totpEnrolment({ action: `/interaction/${p.uid}/enrol`, csrf: p.csrf, qr: p.qr, secret: p.secret, error: p.error, submit: t('enrol.submit') })}
<h2>${t('enrol.orPasskey')}</h2>
<p class="hint">${t('enrol.passkeyHint')}</p>
<label for="passkey_name">${t('enrol.passkeyName')}</label>
<input id="passkey_name" type="text" maxlength="64" value="${t('passkey.defaultName')}">
${passkeyButton({ mode: 'register', id: 'passkey-enrol', options: `/interaction/${p.uid}/enrol/passkey/options`, verify: `/interaction/${p.uid}/enrol/passkey`, csrf: p.csrf, label: t('enrol.passkeySubmit'), nameInput: 'passkey_name', secondary: true })}`,
    { scripts: ['/assets/webauthn.js'] },
  )
}

export function codesPage(p: { uid: string; csrf: string; codes?: string[] }) {
  return page(
    t('codes.title'),
    html`
<h1>${t('codes.on')}</h1>
${p.codes ? recoveryCodesBlock(p.codes) : html`<p>${t('codes.shownBefore')}</p>`}
<form method="post" action="/interaction/${p.uid}/continue">
  <input type="hidden" name="csrf" value="${p.csrf}">
  <button type="submit" autofocus>${t('codes.saved')}</button>
</form>`,
  )
}

export function lockedMessage(retryAfter: number) {
  return t('login.locked', { count: Math.ceil(retryAfter / 60) })
}
