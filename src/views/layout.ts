import { html, type SafeHtml } from './html.ts'
import { currentBrand, currentLocale, languageLinks, t } from './i18n.ts'

/**
 * The page frame every server-rendered page uses: one stylesheet plus the brand's colours
 * (/assets/brand.css), no inline script or style. The language is the request's
 * (views/i18n.ts), the brand the deployment's (views/brand.ts).
 */
export function page(title: string, body: SafeHtml, opts: { wide?: boolean; scripts?: string[] } = {}): string {
  const brand = currentBrand()
  const languages = languageLinks()
  return html`<!DOCTYPE html>
<html lang="${currentLocale()}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${title} · ${brand.product}</title>
<link rel="stylesheet" href="/assets/style.css">
<link rel="stylesheet" href="/assets/brand.css">
${(opts.scripts ?? []).map((src) => html`<script src="${src}" defer></script>`)}
</head>
<body>
<main class="card${opts.wide ? ' wide' : ''}">
<p class="brand" id="brand">${brand.logoUrl ? html`<img class="logo" src="${brand.logoUrl}" alt="${brand.product}">` : brand.product}</p>
${body}
<footer class="foot">
${brand.supportUrl ? html`<a href="${brand.supportUrl}" id="support-link">${t('layout.support')}</a>` : ''}
${languages.length ? html`<nav class="languages" aria-label="${t('layout.language')}">${languages.map((l) => html`<a href="${l.href}" hreflang="${l.lang}" lang="${l.lang}">${l.name}</a>`)}</nav>` : ''}
</footer>
</main>
</body>
</html>`.value
}

/** An error message tied to its input (aria-describedby) and announced to screen readers. */
export function fieldError(id: string, message: string | undefined) {
  return message ? html`<p class="error" id="${id}" role="alert">${message}</p>` : html``
}

/** A way out of an error page: a link and its words. */
export interface WayBack {
  href: string
  label: string
}

/**
 * A page that says what went wrong in plain words and offers a way back (4xx/5xx pages, 429,
 * 503, OAuth errors shown to the user). Without `back`, the way back is "sign in again" (the
 * account page, which starts a fresh sign-in). `detail` is the technical reason, folded away.
 */
export function errorPage(title: string, message: string, opts: { back?: WayBack[]; detail?: string } = {}) {
  const back = opts.back ?? [{ href: '/account', label: t('error.signInAgain') }]
  return page(
    title,
    html`<h1>${title}</h1><p role="alert" id="error-message">${message}</p>
${back.length ? html`<ul class="back">${back.map((b) => html`<li><a href="${b.href}">${b.label}</a></li>`)}</ul>` : ''}
${opts.detail ? html`<details class="detail"><summary>${t('error.details')}</summary><p><code>${opts.detail}</code></p></details>` : ''}`,
  )
}
