import { html, raw } from './html.ts'
import { fieldError, page } from './layout.ts'
import { t, tHtml, withUiLocales } from './i18n.ts'

/** Back to the sign-in this request started from, when there is one (an interaction uid). */
const back = (interaction?: string) =>
  interaction
    ? html`<p><a href="/interaction/${interaction}?signin=1" id="back-to-signin">${t('register.backToSignIn')}</a></p>`
    : html``

export interface RegisterView {
  product: string
  interaction?: string
  email?: string
  name?: string
  minLength: number
  /** hidden fields of the anti-automation challenge (identity/signup-challenge.ts) */
  challenge: Record<string, string>
  scripts: string[]
  errors?: { email?: string; password?: string; form?: string }
  /** addresses at these domains only (shown as a hint) */
  domains: string[]
}

export function registerPage(p: RegisterView) {
  const e = p.errors ?? {}
  const pow = 'pow_challenge' in p.challenge
  return page(
    t('register.title'),
    html`
<h1>${t('register.heading', { product: p.product })}</h1>
${p.domains.length ? html`<p class="muted">${t('register.domains', { domains: p.domains.join(', ') })}</p>` : ''}
${fieldError('register-error', e.form)}
<form method="post" action="${withUiLocales('/register')}" novalidate ${raw(pow ? 'data-pow' : '')}>
  ${p.interaction ? html`<input type="hidden" name="interaction" value="${p.interaction}">` : ''}
  ${Object.entries(p.challenge).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}
  ${pow ? html`<input type="hidden" name="pow_nonce" value="">` : ''}
  <label for="email">${t('common.email')}</label>
  <input id="email" name="email" type="email" autocomplete="username" required autofocus maxlength="320" value="${p.email ?? ''}" aria-invalid="${e.email ? 'true' : 'false'}" ${raw(e.email ? 'aria-describedby="email-error"' : '')}>
  ${fieldError('email-error', e.email)}
  <label for="name">${t('common.name')} <span class="muted">${t('register.optional')}</span></label>
  <input id="name" name="name" type="text" autocomplete="name" maxlength="200" value="${p.name ?? ''}">
  <label for="new_password">${t('common.password')}</label>
  <input id="new_password" name="new_password" type="password" autocomplete="new-password" required minlength="${p.minLength}" maxlength="128" aria-invalid="${e.password ? 'true' : 'false'}" ${raw(e.password ? 'aria-describedby="password-error"' : '')}>
  <p class="muted">${t('register.hint', { count: p.minLength })}</p>
  <label for="confirm_password">${t('register.repeat')}</label>
  <input id="confirm_password" name="confirm_password" type="password" autocomplete="new-password" required>
  ${fieldError('password-error', e.password)}
  <p class="muted" id="pow-status" role="status" data-msg-wait="${t('register.powWait')}"></p>
  <button type="submit" id="register-submit">${t('register.submit')}</button>
</form>
${back(p.interaction)}`,
    { scripts: p.scripts },
  )
}

export function registeredPage(p: { email: string; interaction?: string }) {
  return page(
    t('register.doneTitle'),
    html`
<h1>${t('register.doneTitle')}</h1>
<p role="status" id="register-done">${tHtml('register.done', { email: p.email })}</p>
<p class="muted">${t('register.noMail')}</p>
${back(p.interaction)}`,
  )
}

/** Shown instead of finishing the sign-in of an account whose address is not verified yet. */
export function verifyFirstPage(p: { uid: string; csrf: string; email: string; notice?: string }) {
  return page(
    t('register.verifyFirstTitle'),
    html`
<h1>${t('register.verifyFirstHeading')}</h1>
<p role="alert" id="verify-first">${tHtml('register.verifyFirst', { email: p.email })}</p>
${p.notice ? html`<p class="notice" role="status" id="verify-notice">${p.notice}</p>` : ''}
<form method="post" action="/interaction/${p.uid}/verify/continue">
  <input type="hidden" name="csrf" value="${p.csrf}">
  <button type="submit">${t('register.verifyContinue')}</button>
</form>
<form method="post" action="/interaction/${p.uid}/verify/resend">
  <input type="hidden" name="csrf" value="${p.csrf}">
  <button type="submit" class="secondary" id="resend-verification">${t('register.verifyResend')}</button>
</form>`,
  )
}
