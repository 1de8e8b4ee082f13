import { html, raw, type SafeHtml } from './html.ts'
import { fieldError } from './layout.ts'
import { t, tHtml } from './i18n.ts'

/**
 * Pieces shared by the sign-in steps (oidc/interactions) and the account pages: TOTP
 * enrolment, recovery code lists, passkey buttons. Passkey buttons are plain HTML with data
 * attributes; /assets/webauthn.js (the only script) runs the ceremony.
 */
export const describedBy = (id: string, on: boolean) =>
  raw(on ? `aria-describedby="${id}" aria-invalid="true"` : 'aria-invalid="false"')

export function totpEnrolment(p: {
  action: string
  csrf: string
  qr: string
  secret: string
  error?: string
  withName?: boolean
  submit: string
}): SafeHtml {
  const grouped = p.secret.replace(/(.{4})/g, '$1 ').trim()
  return html`
<ol>
  <li>${t('totp.scan')}
    <img class="qr" src="${p.qr}" alt="${t('totp.qrAlt')}"></li>
  <li>${tHtml('totp.typeKey', { key: html`<span class="secret" id="totp-secret">${grouped}</span>` })}</li>
  <li>${t('totp.enterCode')}</li>
</ol>
<form method="post" action="${p.action}" novalidate>
  <input type="hidden" name="csrf" value="${p.csrf}">
  ${
    p.withName
      ? html`<label for="factor_name">${t('totp.nameLabel')}</label>
  <input id="factor_name" name="name" type="text" maxlength="64" value="${t('totp.defaultName')}">`
      : ''
  }
  <label for="code">${t('totp.codeLabel')}</label>
  <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*" maxlength="8" required autofocus ${describedBy('code-error', Boolean(p.error))}>
  ${fieldError('code-error', p.error)}
  <button type="submit">${p.submit}</button>
</form>`
}

export function recoveryCodesBlock(codes: string[]): SafeHtml {
  return html`
<p class="notice" role="status">${t('codes.save')}</p>
<ol class="codes" id="recovery-codes">${codes.map((c) => html`<li><code>${c}</code></li>`)}</ol>`
}

/** A button that runs a WebAuthn ceremony (see assets/webauthn.js). */
export function passkeyButton(p: {
  mode: 'register' | 'authenticate'
  options: string
  verify: string
  csrf: string
  label: string
  nameInput?: string
  secondary?: boolean
  id: string
}): SafeHtml {
  return html`
<button type="button" id="${p.id}" class="${p.secondary ? 'secondary' : ''}" data-webauthn="${p.mode}" data-options="${p.options}" data-verify="${p.verify}" data-csrf="${p.csrf}" ${raw(p.nameInput ? `data-name-input="${p.nameInput}"` : '')} data-error="${p.id}-error" data-msg-cancelled="${t('passkey.cancelled')}" data-msg-failed="${t('passkey.failed')}" hidden>${p.label}</button>
<p class="error" id="${p.id}-error" role="alert" hidden></p>
<noscript><p class="hint">${t('passkey.needsJs')}</p></noscript>`
}
