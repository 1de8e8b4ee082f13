import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, type TestServer } from '../helpers/server.ts'

/**
 * How a request's language is chosen (views/i18n.ts, http/middleware/locale.ts), over real
 * HTTP: `?lang=` (and its cookie), the cookie, Accept-Language with q-values, English; hostile
 * or unknown values fall back to English with a 200, never an error. The brand stylesheet
 * carries the configured colours; discovery lists the languages.
 */
describe('language selection and brand over HTTP', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({ env: { PRODUCT_NAME: 'Acme ID', BRAND_PRIMARY_COLOR: '#aa3300' } })
  })
  afterAll(async () => {
    await server?.close()
  })

  const get = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, { headers, redirect: 'manual' })
  const langOf = async (res: Response) => (await res.text()).match(/<html lang="([^"]+)">/)?.[1]

  it('Accept-Language picks the best shipped language; none or an unknown one is English', async () => {
    expect(await langOf(await get('/password/forgot', { 'accept-language': 'fr-CH, de;q=0.8, en;q=0.5' }))).toBe('de')
    expect(await langOf(await get('/password/forgot', { 'accept-language': 'en;q=0.9, de-AT;q=0.8' }))).toBe('en')
    expect(await langOf(await get('/password/forgot', { 'accept-language': 'fr, ja' }))).toBe('en')
    const res = await get('/password/forgot')
    expect(res.headers.get('content-language')).toBe('en')
    expect(res.headers.get('vary')).toMatch(/Accept-Language/)
    expect(await res.text()).toContain('<title>Forgot password · Acme ID</title>')
  })

  it('?lang= wins and is remembered in a cookie, which then beats Accept-Language', async () => {
    const res = await get('/password/forgot?lang=de', { 'accept-language': 'en' })
    expect(await langOf(res)).toBe('de')
    const cookie = res.headers.get('set-cookie') ?? ''
    expect(cookie).toMatch(/^lang=de;.*httponly/i)
    expect(await langOf(await get('/password/forgot', { 'accept-language': 'en', cookie: 'lang=de' }))).toBe('de')
  })

  it('?ui_locales= (carried from a sign-in whose client asked for a language) beats the cookie and is not remembered; ?lang= beats it', async () => {
    const res = await get('/password/forgot?ui_locales=fr%20de-AT', { 'accept-language': 'en', cookie: 'lang=en' })
    expect(await langOf(res)).toBe('de')
    expect(res.headers.get('set-cookie') ?? '').not.toMatch(/lang=/)
    expect(await langOf(await get('/password/forgot?ui_locales=de&lang=en'))).toBe('en')
  })

  it('hostile or unknown values are ignored, never an error', async () => {
    for (const [path, headers] of [
      ['/password/forgot?lang=%3Cscript%3E', {}],
      ['/password/forgot?lang=de&lang=en', {}],
      ['/password/forgot?ui_locales=%3Cscript%3E%20xx', {}],
      ['/password/forgot?ui_locales=de&ui_locales=de', {}],
      // past the 200 characters looked at: ignored
      [`/password/forgot?ui_locales=${'x%20'.repeat(200)}de`, {}],
      ['/password/forgot', { cookie: 'lang=../../etc/passwd' }],
      ['/password/forgot', { 'accept-language': `${'x-'.repeat(2000)}de;q=abc, *;q=-1` }],
    ] as [string, Record<string, string>][]) {
      const res = await get(path, headers)
      expect(res.status, path).toBe(200)
      expect(await langOf(res), path).toBe('en')
    }
  })

  it('the brand stylesheet carries the configured colour; discovery lists the languages', async () => {
    const css = await get('/assets/brand.css')
    expect(css.headers.get('content-type')).toMatch(/text\/css/)
    expect(await css.text()).toBe(':root { --accent: #aa3300; }\n')
    const discovery = (await (await get('/.well-known/openid-configuration')).json()) as {
      ui_locales_supported?: string[]
    }
    expect(discovery.ui_locales_supported).toEqual(['en', 'de'])
  })
})
