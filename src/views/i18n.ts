import { AsyncLocalStorage } from 'node:async_hooks'
import fs from 'node:fs'
import i18next from 'i18next'
import { escapeHtml, raw, SafeHtml } from './html.ts'
import { DEFAULT_BRAND, type Brand } from './brand.ts'

/**
 * Translation for every page and mail (issue 14 §7). The catalogues are `locales/<lang>.json`
 * (nested keys, i18next JSON v4: `{{name}}` interpolation, `_one`/`_other` plural suffixes).
 * English is the source language and the fallback; a language is offered as soon as its file
 * exists. The language and the brand of the request being served live in an
 * AsyncLocalStorage, so `t(key, vars)` works in any view, mail template or route handler
 * without threading a context through (see docs/development.md "Adding a string").
 */
const dir = new URL('../../locales/', import.meta.url)
const files = fs.readdirSync(dir).filter((f) => /^[a-z]{2,3}(-[A-Z]{2})?\.json$/.test(f))
/** Every shipped language, English first. */
export const LOCALES: readonly string[] = Object.freeze(
  files.map((f) => f.slice(0, -5)).sort((a, b) => (a === 'en' ? -1 : b === 'en' ? 1 : a.localeCompare(b))),
)
export const DEFAULT_LOCALE = 'en'

const catalogue = (lang: string) =>
  JSON.parse(fs.readFileSync(new URL(`${lang}.json`, dir), 'utf8')) as Record<string, unknown>

const i18n = i18next.createInstance()
void i18n.init({
  resources: Object.fromEntries(LOCALES.map((l) => [l, { translation: catalogue(l) }])),
  lng: DEFAULT_LOCALE,
  fallbackLng: DEFAULT_LOCALE,
  supportedLngs: [...LOCALES],
  // Resources are in memory: initialise synchronously, before the first request.
  initAsync: false,
  // The `html` tag escapes `t()` results where they are interpolated; `tHtml` escapes itself.
  interpolation: { escapeValue: false },
  returnNull: false,
  // Scope names such as `authz:check` are keys: no namespaces in keys.
  nsSeparator: false,
})

/** The language names a picker shows, each in its own language. */
export const LANGUAGE_NAMES: Readonly<Record<string, string>> = Object.freeze(
  Object.fromEntries(LOCALES.map((l) => [l, i18n.t('language.name', { lng: l })])),
)

interface RequestLocale {
  locale: string
  brand: Brand
  /** the user picked the language on this very request (`?lang=`): nothing overrides it */
  chosen: boolean
  /** path and query of a GET page, for the language picker's links (none on a POST answer) */
  here?: string
  /** the language came from a client's `ui_locales` (OIDC Core §3.1.2.1), not from the browser */
  fromUiLocales?: boolean
}
const current = new AsyncLocalStorage<RequestLocale>()

/** Runs `fn` with this language and brand (a request, a mail rendered outside one, a test). */
export function withLocale<T>(locale: string, fn: () => T, brand: Brand = currentBrand()): T {
  return current.run({ locale: supported(locale) ?? DEFAULT_LOCALE, brand, chosen: false }, fn)
}
/** Runs the rest of a request (Koa middleware) in its language. */
export function runInLocale<T>(store: RequestLocale, fn: () => T): T {
  return current.run(store, fn)
}

export const currentLocale = () => current.getStore()?.locale ?? DEFAULT_LOCALE
export const currentBrand = () => current.getStore()?.brand ?? DEFAULT_BRAND

/** Links to this same page in each other language (empty where the page came from a POST). */
export function languageLinks(): { lang: string; name: string; href: string }[] {
  const here = current.getStore()?.here
  if (!here) return []
  const url = new URL(here, 'http://x')
  return LOCALES.filter((l) => l !== currentLocale()).map((l) => {
    url.searchParams.set('lang', l)
    return { lang: l, name: LANGUAGE_NAMES[l]!, href: url.pathname + url.search }
  })
}

/** `de-DE`, `DE`, `de` -> `de` when shipped; undefined for anything else. */
export function supported(tag: string | undefined): string | undefined {
  if (!tag) return undefined
  const t = tag.trim()
  const exact = LOCALES.find((l) => l.toLowerCase() === t.toLowerCase())
  if (exact) return exact
  const primary = t.split(/[-_]/)[0]!.toLowerCase()
  return LOCALES.find((l) => l === primary)
}

/**
 * OIDC Core §3.1.2.1 `ui_locales`: a space-separated list of BCP 47 tags in order of
 * preference. The first one we ship wins, for the rest of this request — unless the user chose
 * a language on this request.
 */
export function preferUiLocales(uiLocales: unknown) {
  const store = current.getStore()
  if (!store || store.chosen || typeof uiLocales !== 'string') return
  for (const tag of uiLocales.split(' ')) {
    const l = supported(tag)
    if (l) {
      store.locale = l
      store.fromUiLocales = true
      return
    }
  }
}

/**
 * A link from a page whose language the client chose (`ui_locales`) to a page outside the
 * interaction (sign-up, forgotten password) carries that choice along, so the next page and the
 * mail it sends speak the same language; http/middleware/locale.ts reads it. Not remembered:
 * the next sign-in may come from another client.
 */
export function withUiLocales(path: string): string {
  const store = current.getStore()
  if (!store?.fromUiLocales) return path
  return `${path}${path.includes('?') ? '&' : '?'}ui_locales=${encodeURIComponent(store.locale)}`
}

type Vars = Record<string, unknown>

/**
 * The text of `key` in the request's language, as plain text: the `html` tag escapes it where
 * it is interpolated, a text mail uses it as it is. `{{product}}` is always the brand's name;
 * `count` picks the plural form.
 */
export function t(key: string, vars: Vars = {}): string {
  return i18n.t(key, { lng: currentLocale(), product: currentBrand().product, ...vars }) as string
}

/**
 * Like `t`, for catalogue texts that carry a little markup (`<strong>{{email}}</strong>`): the
 * catalogue is ours, so its markup stays; every value is escaped (a `SafeHtml` value is
 * inserted as it is).
 */
export function tHtml(key: string, vars: Vars = {}): SafeHtml {
  return raw(
    i18n.t(key, {
      lng: currentLocale(),
      product: currentBrand().product,
      ...vars,
      interpolation: {
        escapeValue: true,
        useRawValueToEscape: true,
        escape: (v: unknown) => (v instanceof SafeHtml ? v.value : escapeHtml(String(v))),
      },
    }) as string,
  )
}

/** Does the catalogue have this key (in English, the source language)? */
export const hasKey = (key: string) => i18n.exists(key, { lng: DEFAULT_LOCALE })
