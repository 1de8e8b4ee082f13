import { html, type SafeHtml } from '../views/html.ts'
import { currentLocale, t, tHtml } from '../views/i18n.ts'
import type { Brand } from '../views/brand.ts'
export type { Brand } from '../views/brand.ts'

/** A mail ready to send: one recipient, a subject, and the same words as text and as HTML. */
export interface Mail {
  to: string
  subject: string
  text: string
  html: string
}

/*
 * Every mail names the deployment and carries its brand (logo, colour, support link; views/
 * brand.ts) and at most one secret: the single-use link it exists for. The words come from the
 * catalogues (`mail.*` in locales/), in the language of the request that caused the mail
 * (views/i18n.ts). Values are escaped in the HTML part by the `html` tag and `tHtml`; the text
 * part is plain text, where nothing is interpreted.
 */

const DEFAULT_ACCENT = '#2456d6'

export function frame(brand: Brand, title: string, body: SafeHtml): string {
  return html`<!DOCTYPE html>
<html lang="${currentLocale()}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title></head>
<body style="font-family: system-ui, sans-serif; line-height: 1.5; color: #1b1b1f; max-width: 36rem; margin: 0 auto; padding: 1.5rem;">
${
  brand.logoUrl
    ? html`<p><img src="${brand.logoUrl}" alt="${brand.product}" style="max-height: 40px; max-width: 200px;"></p>`
    : html`<p style="font-weight: 600; color: ${brand.primaryColor ?? '#555'};">${brand.product}</p>`
}
${body}
<p style="color: #777; font-size: 0.875rem;">${t('mail.footer', { product: brand.product })}${brand.supportUrl ? html` <a href="${brand.supportUrl}" style="color: #777;">${t('mail.support')}</a>` : ''}</p>
</body>
</html>`.value
}

/** The text part's closing lines: the signature and, when there is one, where to get help. */
export const signature = (brand: Brand) => [
  '',
  `-- ${brand.product}`,
  ...(brand.supportUrl ? [`${t('mail.support')}: ${brand.supportUrl}`] : []),
]

export const button = (brand: Brand, href: string, label: string) =>
  html`<p><a href="${href}" style="display: inline-block; padding: 0.6rem 1rem; background: ${brand.primaryColor ?? DEFAULT_ACCENT}; color: #fff; text-decoration: none; border-radius: 0.375rem;">${label}</a></p>
<p style="font-size: 0.875rem; color: #555;">${t('mail.copyLink')}<br><span style="word-break: break-all;">${href}</span></p>`

export const duration = (seconds: number) => {
  const m = Math.round(seconds / 60)
  if (m < 120) return t('mail.minutes', { count: m })
  const h = Math.round(m / 60)
  return h < 48 ? t('mail.hours', { count: h }) : t('mail.days', { count: Math.round(h / 24) })
}

export function passwordResetMail(brand: Brand, p: { to: string; link: string; ttlSeconds: number }): Mail {
  const vars = { product: brand.product, email: p.to, valid: duration(p.ttlSeconds) }
  const subject = t('mail.reset.subject', vars)
  return {
    to: p.to,
    subject,
    text: [
      t('mail.reset.why', vars),
      '',
      t('mail.reset.open', vars) + ':',
      p.link,
      '',
      t('mail.reset.ignore', vars),
      ...signature(brand),
    ].join('\n'),
    html: frame(
      brand,
      subject,
      html`
<h1 style="font-size: 1.25rem;">${t('mail.reset.heading', vars)}</h1>
<p>${tHtml('mail.reset.whyHtml', vars)}</p>
<p>${t('mail.reset.open', vars)}.</p>
${button(brand, p.link, t('mail.reset.button', vars))}
<p>${t('mail.reset.ignore', vars)}</p>`,
    ),
  }
}

export function verifyEmailMail(
  brand: Brand,
  p: { to: string; link: string; ttlSeconds: number; change: boolean },
): Mail {
  const vars = { product: brand.product, email: p.to, valid: duration(p.ttlSeconds) }
  const kind = p.change ? 'mail.change' : 'mail.verify'
  const subject = t(`${kind}.subject`, vars)
  const why = t(`${kind}.why`, vars)
  return {
    to: p.to,
    subject,
    text: [
      why,
      '',
      t('mail.verify.open', vars) + ':',
      p.link,
      '',
      t('mail.verify.ignore', vars),
      ...signature(brand),
    ].join('\n'),
    html: frame(
      brand,
      subject,
      html`
<h1 style="font-size: 1.25rem;">${t(`${kind}.heading`, vars)}</h1>
<p>${why}</p>
<p>${t('mail.verify.open', vars)}.</p>
${button(brand, p.link, t(`${kind}.button`, vars))}
<p>${t('mail.verify.ignore', vars)}</p>`,
    ),
  }
}

/** To the old address when the account's email is changed: no link, nothing secret. */
export function emailChangedNotice(brand: Brand, p: { to: string; newEmail: string }): Mail {
  const vars = { product: brand.product, email: p.to, newEmail: p.newEmail }
  const subject = t('mail.changed.subject', vars)
  const line = t('mail.changed.line', vars)
  const help = t('mail.changed.help', vars)
  return {
    to: p.to,
    subject,
    text: [line, '', help, ...signature(brand)].join('\n'),
    html: frame(
      brand,
      subject,
      html`<h1 style="font-size: 1.25rem;">${t('mail.changed.heading', vars)}</h1><p>${line}</p><p>${help}</p>`,
    ),
  }
}
