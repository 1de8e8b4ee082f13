import { html, raw } from './html.ts'
import { fieldError, page } from './layout.ts'
import { t, tHtml, withUiLocales } from './i18n.ts'

/** Back to the sign-in this request started from, when there is one (an interaction uid). */
const back = (interaction?: string) =>
  interaction ? html`<p><a href="/interaction/${interaction}">${t('reset.backToSignIn')}</a></p>` : html``

export function forgotPasswordPage(p: { interaction?: string; email?: string; error?: string }) {
  const invalid = p.error ? 'true' : 'false'
  return page(
    t('reset.forgotTitle'),
    html`
<h1>${t('reset.forgotHeading')}</h1>
<p class="muted">${t('reset.forgotIntro')}</p>
<form method="post" action="${withUiLocales('/password/forgot')}" novalidate>
  ${p.interaction ? html`<input type="hidden" name="interaction" value="${p.interaction}">` : ''}
  <label for="email">${t('common.email')}</label>
  <input id="email" name="email" type="email" autocomplete="username" required autofocus maxlength="320" value="${p.email ?? ''}" aria-invalid="${invalid}" ${raw(p.error ? 'aria-describedby="forgot-error"' : '')}>
  ${fieldError('forgot-error', p.error)}
  <button type="submit">${t('reset.send')}</button>
</form>
${back(p.interaction)}`,
  )
}

export function resetRequestedPage(p: { email: string; ttlMinutes: number; interaction?: string }) {
  return page(
    t('reset.checkMail'),
    html`
<h1>${t('reset.checkMail')}</h1>
<p role="status" id="reset-requested">${tHtml('reset.requested', { email: p.email, count: p.ttlMinutes })}</p>
<p class="muted">${t('reset.noMail')}</p>
${back(p.interaction)}`,
  )
}

export function resetLimitedPage(retryAfter: number) {
  return page(
    t('error.tooManyTitle'),
    html`
<h1>${t('error.tooManyTitle')}</h1>
<p role="alert">${t('reset.limited', { count: Math.ceil(retryAfter / 60) })}</p>`,
  )
}

export function resetPasswordPage(p: { token: string; email: string; minLength: number; errors?: string[] }) {
  const invalid = p.errors?.length ? 'true' : 'false'
  return page(
    t('password.chooseTitle'),
    html`
<h1>${t('password.chooseTitle')}</h1>
<p class="muted">${tHtml('reset.forEmail', { email: p.email, count: p.minLength })}</p>
<form method="post" action="/password/reset" novalidate>
  <input type="hidden" name="token" value="${p.token}">
  <input type="email" name="username" autocomplete="username" value="${p.email}" hidden>
  <label for="new_password">${t('password.new')}</label>
  <input id="new_password" name="new_password" type="password" autocomplete="new-password" required autofocus minlength="${p.minLength}" maxlength="128" aria-invalid="${invalid}" ${raw(p.errors?.length ? 'aria-describedby="password-error"' : '')}>
  <label for="confirm_password">${t('password.repeat')}</label>
  <input id="confirm_password" name="confirm_password" type="password" autocomplete="new-password" required aria-invalid="${invalid}">
  ${fieldError('password-error', p.errors?.join(' '))}
  <button type="submit">${t('reset.save')}</button>
</form>`,
  )
}

export function resetInvalidPage() {
  return page(
    t('link.invalidTitle'),
    html`
<h1>${t('link.invalidHeading')}</h1>
<p role="alert" id="reset-invalid">${t('reset.invalid')}</p>
<p><a href="/password/forgot">${t('reset.askAgain')}</a></p>`,
  )
}

export function resetDonePage(p: { sessionsEnded: boolean }) {
  return page(
    t('reset.doneTitle'),
    html`
<h1>${t('reset.doneHeading')}</h1>
<p role="status" id="reset-done">${t('reset.done')}${p.sessionsEnded ? ' ' + t('reset.doneElsewhere') : ''} ${t('reset.doneMfa')}</p>
<p class="muted">${t('reset.doneBack')}</p>`,
  )
}
