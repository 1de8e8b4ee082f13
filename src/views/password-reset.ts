import { html, raw } from './html.ts'
import { fieldError, page } from './layout.ts'

/** Back to the sign-in this request started from, when there is one (an interaction uid). */
const back = (interaction?: string) =>
  interaction ? html`<p><a href="/interaction/${interaction}">Back to sign in</a></p>` : html``

export function forgotPasswordPage(p: { product: string; interaction?: string; email?: string; error?: string }) {
  const invalid = p.error ? 'true' : 'false'
  return page('Forgot password', html`
<h1>Forgot your password?</h1>
<p class="muted">Enter the email address of your ${p.product} account. If it has one, we send it a link to choose a new password.</p>
<form method="post" action="/password/forgot" novalidate>
  ${p.interaction ? html`<input type="hidden" name="interaction" value="${p.interaction}">` : ''}
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="username" required autofocus maxlength="320" value="${p.email ?? ''}" aria-invalid="${invalid}" ${raw(p.error ? 'aria-describedby="forgot-error"' : '')}>
  ${fieldError('forgot-error', p.error)}
  <button type="submit">Send the link</button>
</form>
${back(p.interaction)}`)
}

export function resetRequestedPage(p: { email: string; ttlMinutes: number; interaction?: string }) {
  return page('Check your mail', html`
<h1>Check your mail</h1>
<p role="status" id="reset-requested">If <strong>${p.email}</strong> belongs to an account, a link to choose a new password is on its way. It works once, for ${p.ttlMinutes} minutes.</p>
<p class="muted">No mail after a few minutes? Check the spam folder, or ask again.</p>
${back(p.interaction)}`)
}

export function resetLimitedPage(retryAfter: number) {
  return page('Too many requests', html`
<h1>Too many requests</h1>
<p role="alert">Too many password reset requests came from your network. Try again in ${Math.ceil(retryAfter / 60)} minutes.</p>`)
}

export function resetPasswordPage(p: { token: string; email: string; minLength: number; errors?: string[] }) {
  const invalid = p.errors?.length ? 'true' : 'false'
  return page('Choose a new password', html`
<h1>Choose a new password</h1>
<p class="muted">For <strong>${p.email}</strong>. Use at least ${p.minLength} characters; a few unrelated words make a strong password.</p>
<form method="post" action="/password/reset" novalidate>
  <input type="hidden" name="token" value="${p.token}">
  <input type="email" name="username" autocomplete="username" value="${p.email}" hidden>
  <label for="new_password">New password</label>
  <input id="new_password" name="new_password" type="password" autocomplete="new-password" required autofocus minlength="${p.minLength}" maxlength="128" aria-invalid="${invalid}" ${raw(p.errors?.length ? 'aria-describedby="password-error"' : '')}>
  <label for="confirm_password">Repeat the new password</label>
  <input id="confirm_password" name="confirm_password" type="password" autocomplete="new-password" required aria-invalid="${invalid}">
  ${fieldError('password-error', p.errors?.join(' '))}
  <button type="submit">Save the new password</button>
</form>`)
}

export function resetInvalidPage() {
  return page('Link not valid', html`
<h1>This link does not work any more</h1>
<p role="alert" id="reset-invalid">The password reset link was already used, has expired, or is not complete. Each link works once, for a short time.</p>
<p><a href="/password/forgot">Ask for a new link</a></p>`)
}

export function resetDonePage(p: { sessionsEnded: boolean }) {
  return page('Password changed', html`
<h1>Your password was changed</h1>
<p role="status" id="reset-done">Sign in with your new password.${p.sessionsEnded ? ' You were signed out everywhere else.' : ''} If you use two-step verification, you still need it to sign in.</p>
<p class="muted">Go back to the application you were using and sign in there.</p>`)
}
