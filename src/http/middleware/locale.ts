import type { Middleware } from 'koa'
import type { Brand } from '../../views/brand.ts'
import { DEFAULT_LOCALE, LOCALES, runInLocale, supported } from '../../views/i18n.ts'

export const LANG_COOKIE = 'lang'
const YEAR_MS = 365 * 24 * 3600 * 1000

/**
 * Picks the language of each request and runs the rest of it in that language and brand
 * (views/i18n.ts). In order: `?lang=` (the language picker on every page; remembered in the
 * `lang` cookie), the OIDC `ui_locales` of an interaction (applied by the interaction pages,
 * preferUiLocales, and carried as `?ui_locales=` to sign-up and forgotten password), the `lang`
 * cookie, `Accept-Language` (RFC 9110 §12.5.4), English.
 */
export function localeMiddleware(opts: { brand: Brand; https: boolean }): Middleware {
  return async (ctx, next) => {
    const picked = typeof ctx.query.lang === 'string' ? supported(ctx.query.lang) : undefined
    if (picked)
      ctx.cookies.set(LANG_COOKIE, picked, {
        httpOnly: true,
        sameSite: 'lax',
        secure: opts.https,
        maxAge: YEAR_MS,
        overwrite: true,
      })
    // `ui_locales` on a page outside the interaction (views/i18n.ts withUiLocales): not remembered.
    const ui =
      typeof ctx.query.ui_locales === 'string'
        ? ctx.query.ui_locales.slice(0, 200).split(' ').map(supported).find(Boolean)
        : undefined
    const cookie = supported(ctx.cookies.get(LANG_COOKIE) ?? undefined)
    const accepted = ctx.get('accept-language') ? ctx.acceptsLanguages([...LOCALES]) : false
    const locale = picked ?? ui ?? cookie ?? (typeof accepted === 'string' ? accepted : DEFAULT_LOCALE)
    const store = {
      locale,
      brand: opts.brand,
      chosen: picked !== undefined,
      fromUiLocales: !picked && ui !== undefined,
      here: ctx.method === 'GET' ? ctx.url : undefined,
    }
    await runInLocale(store, next)
    // Pages differ by these request headers: a cache must not hand one person's language to
    // another. Content-Language (RFC 9110 §8.5) names the language the page was written in.
    if (!ctx.headerSent && ctx.response.is('html')) {
      ctx.vary('Accept-Language')
      ctx.vary('Cookie')
      ctx.set('Content-Language', store.locale)
    }
  }
}
