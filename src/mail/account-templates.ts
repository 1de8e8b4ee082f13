import { html } from '../views/html.ts'
import { currentLocale, t, tHtml } from '../views/i18n.ts'
import { button, duration, frame, signature, type Brand, type Mail } from './templates.ts'

/**
 * Mails of the account lifecycle (issue 14 §4, §5, §8): sign-up, invitations and security
 * notices. A notice carries no secret and no link that acts: it names what happened, when and
 * from where, and points to the forgotten-password page ("this wasn't me"). The words come from
 * the catalogues (`mail.exists`, `mail.invite`, `mail.notice` in locales/), in the language of
 * the request that caused the mail (views/i18n.ts).
 */

const text = (lines: string[], brand: Brand) => [...lines, ...signature(brand)].join('\n')

/** A sign-up for an address that already has an account: its owner is told, nothing changes. */
export function accountExistsMail(brand: Brand, p: { to: string; signInUrl: string; resetUrl: string }): Mail {
  const vars = { product: brand.product, email: p.to }
  const subject = t('mail.exists.subject', vars)
  const line = t('mail.exists.line', vars)
  const next = t('mail.exists.next', vars)
  const notYou = t('mail.exists.notYou', vars)
  const signIn = t('mail.exists.signIn', vars)
  const forgot = t('mail.exists.forgot', vars)
  return {
    to: p.to,
    subject,
    text: text([line, '', next, `${signIn}: ${p.signInUrl}`, `${forgot} ${p.resetUrl}`, '', notYou], brand),
    html: frame(
      brand,
      subject,
      html`
<h1 style="font-size: 1.25rem;">${t('mail.exists.heading', vars)}</h1>
<p>${line}</p>
<p>${next}</p>
<p><a href="${p.signInUrl}">${signIn}</a> · <a href="${p.resetUrl}">${forgot}</a></p>
<p>${notYou}</p>`,
    ),
  }
}

/** An imported account without a password: a single-use link to choose the first one. */
export function invitationMail(brand: Brand, p: { to: string; link: string; ttlSeconds: number }): Mail {
  const vars = { product: brand.product, email: p.to, valid: duration(p.ttlSeconds) }
  const subject = t('mail.invite.subject', vars)
  const line = t('mail.invite.line', vars)
  const open = t('mail.verify.open', vars)
  const ignore = t('mail.invite.ignore', vars)
  return {
    to: p.to,
    subject,
    text: text([line, '', `${open}:`, p.link, '', ignore], brand),
    html: frame(
      brand,
      subject,
      html`
<h1 style="font-size: 1.25rem;">${t('mail.invite.heading', vars)}</h1>
<p>${line}</p>
<p>${open}.</p>
${button(brand, p.link, t('mail.invite.button', vars))}
<p>${ignore}</p>`,
    ),
  }
}

export type NoticeKind =
  'new_device' | 'password_changed' | 'mfa_added' | 'mfa_removed' | 'api_key_created' | 'account_locked'

/** The moment, in the mail's language, in UTC (the reader's zone is unknown). */
const moment = (when: Date) =>
  new Intl.DateTimeFormat(currentLocale(), { dateStyle: 'full', timeStyle: 'long', timeZone: 'UTC' }).format(when)

/**
 * A security notice (issue 14 §5). `when` and `from` (browser and network) say where it came
 * from; the reset page is the "this wasn't me" way out.
 */
export function securityNotice(
  brand: Brand,
  p: { to: string; kind: NoticeKind; detail?: string; when: Date; from?: string; resetUrl: string; accountUrl: string },
): Mail {
  const k = `mail.notice.${p.kind}`
  const vars = { product: brand.product, detail: p.detail }
  const subject = t(`${k}.subject`, vars)
  const line = t(p.detail ? `${k}.lineDetail` : `${k}.line`, vars)
  const when = p.from
    ? t('mail.notice.whenFrom', { when: moment(p.when), from: p.from })
    : t('mail.notice.when', { when: moment(p.when) })
  const ok = t('mail.notice.ok')
  const notMe = t('mail.notice.notMe')
  const reset = t('mail.notice.reset')
  const account = t('mail.notice.account')
  return {
    to: p.to,
    subject,
    text: text([line, when, '', ok, '', notMe, `${reset}: ${p.resetUrl}`, `${account}: ${p.accountUrl}`], brand),
    html: frame(
      brand,
      subject,
      html`
<h1 style="font-size: 1.25rem;">${t(`${k}.title`, vars)}</h1>
<p>${line}</p>
<p style="color: #555;">${when}</p>
<p>${ok}</p>
<p><strong>${tHtml('mail.notice.notMeLabel')}</strong> ${notMe}</p>
<p><a href="${p.resetUrl}">${reset}</a> · <a href="${p.accountUrl}">${account}</a></p>`,
    ),
  }
}
