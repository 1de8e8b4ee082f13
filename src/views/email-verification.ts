import { html } from './html.ts'
import { page } from './layout.ts'
import { t, tHtml } from './i18n.ts'

const toAccount = () => html`<p><a href="/account">${t('common.yourAccount')}</a></p>`

export function verifyEmailPage(p: { token: string; email: string }) {
  return page(
    t('verify.title'),
    html`
<h1>${t('verify.heading')}</h1>
<p>${tHtml('verify.confirm', { email: p.email })}</p>
<form method="post" action="/email/verify">
  <input type="hidden" name="token" value="${p.token}">
  <button type="submit" autofocus>${t('verify.submit', { email: p.email })}</button>
</form>`,
  )
}

export function verifyInvalidPage() {
  return page(
    t('link.invalidTitle'),
    html`
<h1>${t('link.invalidHeading')}</h1>
<p role="alert" id="verify-invalid">${t('verify.invalid')}</p>
${toAccount()}`,
  )
}

export function verifiedPage(email: string) {
  return page(
    t('verify.doneTitle'),
    html`
<h1>${t('verify.doneTitle')}</h1>
<p role="status" id="verify-done">${tHtml('verify.done', { email })}</p>
${toAccount()}`,
  )
}

export function confirmChangePage(p: { token: string; from: string; to: string }) {
  return page(
    t('verify.changeTitle'),
    html`
<h1>${t('verify.changeHeading')}</h1>
<p>${tHtml('verify.changeConfirm', { from: p.from, to: p.to })}</p>
<form method="post" action="/email/change">
  <input type="hidden" name="token" value="${p.token}">
  <button type="submit" autofocus>${t('verify.changeSubmit', { email: p.to })}</button>
</form>`,
  )
}

export function changedPage(email: string) {
  return page(
    t('verify.changedTitle'),
    html`
<h1>${t('verify.changedTitle')}</h1>
<p role="status" id="change-done">${tHtml('verify.changed', { email })}</p>
${toAccount()}`,
  )
}

export function changeTakenPage() {
  return page(
    t('verify.takenTitle'),
    html`
<h1>${t('verify.takenHeading')}</h1>
<p role="alert" id="change-taken">${t('verify.taken')}</p>
${toAccount()}`,
  )
}
