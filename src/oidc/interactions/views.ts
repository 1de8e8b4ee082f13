import { html, raw } from '../../views/html.ts'
import { fieldError, page } from '../../views/layout.ts'
import { t, tHtml, withUiLocales } from '../../views/i18n.ts'
import { passkeyButton } from '../../views/strong-login.ts'
import { providerButtons } from '../../federation/pages.ts'

/**
 * "Signed in as …, Sign in as someone else": a POST (it changes what the request will do), so
 * it carries the interaction's CSRF token. See the `/switch` route.
 */
export function switchAccount(p: { uid: string; csrf: string; email: string; pending?: boolean }) {
  return html`
<form method="post" action="/interaction/${p.uid}/switch" class="switch">
  <input type="hidden" name="csrf" value="${p.csrf}">
  <p class="muted">${tHtml(p.pending ? 'login.signingInAs' : 'login.signedInAs', { email: p.email })}</p>
  <button type="submit" class="secondary small">${t('login.switch')}</button>
</form>`
}

export function loginPage(p: {
  uid: string
  csrf: string
  clientName: string
  email?: string
  error?: string
  notice?: string
  signedInAs?: string
  providers?: { alias: string; displayName: string }[]
  registration?: boolean
}) {
  const invalid = p.error ? 'true' : 'false'
  return page(
    t('login.title'),
    html`
<h1>${t('login.title')}</h1>
<p class="muted">${tHtml('login.toContinue', { client: p.clientName })}</p>
${p.notice ? html`<p class="notice" role="status">${p.notice}</p>` : ''}
${p.signedInAs ? html`<p class="muted" id="signed-in-as">${tHtml('login.alreadySignedIn', { email: p.signedInAs })}</p>` : ''}
<form method="post" action="/interaction/${p.uid}/login" novalidate>
  <input type="hidden" name="csrf" value="${p.csrf}">
  <label for="email">${t('common.email')}</label>
  <input id="email" name="email" type="email" autocomplete="username" required autofocus value="${p.email ?? ''}" aria-invalid="${invalid}" ${raw(p.error ? 'aria-describedby="login-error"' : '')}>
  <label for="password">${t('common.password')}</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required aria-invalid="${invalid}" ${raw(p.error ? 'aria-describedby="login-error"' : '')}>
  ${fieldError('login-error', p.error)}
  <button type="submit">${t('login.submit')}</button>
</form>
<p class="forgot"><a href="${withUiLocales(`/password/forgot?interaction=${p.uid}`)}" id="forgot-password">${t('login.forgot')}</a></p>
<!-- federation (issue 14 §6): upstream identity provider buttons -->
${providerButtons({ uid: p.uid, csrf: p.csrf, providers: p.providers ?? [] })}
<!-- end federation -->
${p.registration ? html`<p class="signup"><a href="${withUiLocales(`/register?interaction=${p.uid}`)}" id="create-account">${t('login.createAccount')}</a></p>` : ''}
${passkeyButton({ mode: 'authenticate', id: 'passkey-signin', options: `/interaction/${p.uid}/passkey/options`, verify: `/interaction/${p.uid}/passkey`, csrf: p.csrf, label: t('login.passkey'), secondary: true })}
<form method="post" action="/interaction/${p.uid}/abort">
  <input type="hidden" name="csrf" value="${p.csrf}">
  <button type="submit" class="secondary">${t('common.cancel')}</button>
</form>`,
    { scripts: ['/assets/webauthn.js'] },
  )
}

export function changePasswordPage(p: { uid: string; csrf: string; errors?: string[]; minLength: number }) {
  const invalid = p.errors?.length ? 'true' : 'false'
  return page(
    t('password.chooseTitle'),
    html`
<h1>${t('password.chooseTitle')}</h1>
<p class="muted">${t('password.mustChange', { count: p.minLength })}</p>
<form method="post" action="/interaction/${p.uid}/password" novalidate>
  <input type="hidden" name="csrf" value="${p.csrf}">
  <label for="new_password">${t('password.new')}</label>
  <input id="new_password" name="new_password" type="password" autocomplete="new-password" required autofocus minlength="${p.minLength}" maxlength="128" aria-invalid="${invalid}" ${raw(p.errors?.length ? 'aria-describedby="password-error"' : '')}>
  <label for="confirm_password">${t('password.repeat')}</label>
  <input id="confirm_password" name="confirm_password" type="password" autocomplete="new-password" required aria-invalid="${invalid}">
  ${fieldError('password-error', p.errors?.join(' '))}
  <button type="submit">${t('password.saveAndContinue')}</button>
</form>`,
  )
}

/** A scope as the consent page shows it: its human description, its id for those who look. */
export interface ScopeLine {
  scope: string
  description?: string
}

export function consentPage(p: {
  uid: string
  csrf: string
  clientName: string
  scopes: ScopeLine[]
  claims: string[]
  resources: [string, ScopeLine[]][]
  signedInAs?: string
}) {
  const line = (s: ScopeLine) =>
    s.description
      ? html`<li>${s.description} <span class="hint">(<code>${s.scope}</code>)</span></li>`
      : html`<li><code>${s.scope}</code></li>`
  return page(
    t('consent.title'),
    html`
<h1>${t('consent.heading', { client: p.clientName })}</h1>
<p>${t('consent.asks', { client: p.clientName })}</p>
<ul class="scopes" id="consent-scopes">
  ${p.scopes.map(line)}
  ${p.claims.map((c) => html`<li>${tHtml('consent.claim', { claim: c })}</li>`)}
  ${p.resources.map(([r, s]) => html`<li>${tHtml('consent.onResource', { resource: r })}${s.length ? html`<ul>${s.map(line)}</ul>` : html` <span class="muted">${t('consent.noScopes')}</span>`}</li>`)}
</ul>
<form method="post" action="/interaction/${p.uid}/confirm">
  <input type="hidden" name="csrf" value="${p.csrf}">
  <button type="submit" autofocus>${t('consent.allow')}</button>
</form>
<form method="post" action="/interaction/${p.uid}/abort">
  <input type="hidden" name="csrf" value="${p.csrf}">
  <button type="submit" class="secondary">${t('consent.deny')}</button>
</form>
${p.signedInAs ? switchAccount({ uid: p.uid, csrf: p.csrf, email: p.signedInAs }) : ''}`,
  )
}

// The plain error page is part of the page toolkit (the http/ toolkit renders it too).
export { errorPage } from '../../views/layout.ts'

export function logoutPage(p: { form: string; host: string }) {
  // oidc-provider hands us its own form (with its xsrf token) to embed.
  return page(
    t('logout.title'),
    html`
<h1>${t('logout.heading', { host: p.host })}</h1>
${raw(p.form)}
<button type="submit" form="op.logoutForm" value="yes" name="logout" autofocus>${t('logout.yes')}</button>
<button type="submit" form="op.logoutForm" class="secondary">${t('logout.no')}</button>`,
  )
}

export function loggedOutPage(clientName?: string) {
  return page(
    t('logout.doneTitle'),
    html`<h1>${t('logout.doneHeading')}</h1>${clientName ? html`<p>${t('logout.left', { client: clientName })}</p>` : ''}`,
  )
}

/** Device flow (RFC 8628 §3.3): the page where the user types the code shown on the device. */
export function deviceInputPage(p: { form: string; error?: string }) {
  return page(
    t('device.title'),
    html`
<h1>${t('device.title')}</h1>
${p.error ? html`<p class="error" role="alert" id="device-error">${p.error}</p>` : html`<p>${t('device.enterCode')}</p>`}
${raw(p.form)}
<button type="submit" form="op.deviceInputForm">${t('common.continue')}</button>`,
  )
}

/** Device flow: confirm that the code on screen is the one on the device before approving. */
export function deviceConfirmPage(p: { form: string; clientName: string; userCode: string }) {
  return page(
    t('device.confirmTitle'),
    html`
<h1>${t('device.confirmHeading', { client: p.clientName })}</h1>
<p>${t('device.checkCode')}</p>
<p class="code"><code>${p.userCode}</code></p>
<p>${t('device.ifNotYou')}</p>
${raw(p.form)}
<button type="submit" form="op.deviceConfirmForm" autofocus>${t('common.continue')}</button>
<button type="submit" form="op.deviceConfirmForm" value="yes" name="abort" class="secondary">${t('common.cancel')}</button>`,
  )
}

export function deviceSuccessPage(clientName?: string) {
  return page(
    t('device.doneTitle'),
    html`<h1>${t('device.doneTitle')}</h1><p>${clientName ? t('device.doneClient', { client: clientName }) + ' ' : ''}${t('device.closePage')}</p>`,
  )
}
