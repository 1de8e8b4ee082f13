import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import type { BrowserContext, Page } from 'playwright-core'
import * as oidc from 'openid-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyDocument, validateDocument } from '../../../src/declarative/apply.ts'
import { linkIn } from '../../helpers/smtp.ts'
import { chromiumMissing, startMailingSuite, type MailingSuite } from '../../helpers/browser.ts'

/**
 * Languages and branding in a real Chromium (issue 14 §7): the sign-in page in German chosen
 * by the client's `ui_locales` (over an English browser) and by the browser's
 * Accept-Language; the language picker and its cookie; the deployment's name, colour and logo
 * (served from another origin, so the CSP must allow it) on the pages and in the mail (a real
 * SMTP server); the consent page listing each scope's human description, in the user's
 * language; an error page in plain German with a way back. Screenshots on failure.
 */
const missing = chromiumMissing()
const shots = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-browser-'))
const PASSWORD = 'quiet river lamp orbit'
const SECRET = 'shop-secret-0123456789abcdef'
const ORDERS = 'https://orders.acme.example'
// A 1×1 PNG: the logo the deployment names.
/** The little of the DOM these checks use (the test compiles without the DOM library). */
interface Dom {
  getComputedStyle(e: unknown): { backgroundColor: string }
  document: { documentElement: unknown }
}
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
)

describe.skipIf(missing)('languages and branding in a real browser', () => {
  let suite: MailingSuite
  let side: http.Server
  let sideUrl: string
  let config: oidc.Configuration
  const callback = () => `${sideUrl}/cb`

  beforeAll(async () => {
    // One small server on another origin: the logo, and the relying party's callback.
    side = http.createServer((req, res) => {
      if (req.url === '/logo.png') res.writeHead(200, { 'content-type': 'image/png' }).end(PNG)
      else res.end('signed in')
    })
    await new Promise<void>((resolve) => side.listen(0, '127.0.0.1', resolve))
    sideUrl = `http://127.0.0.1:${(side.address() as AddressInfo).port}`
    suite = await startMailingSuite({
      BRAND_PRIMARY_COLOR: '#aa3300',
      BRAND_BACKGROUND_COLOR: '#fdf6e3',
      BRAND_LOGO_URL: `${sideUrl}/logo.png`,
      BRAND_SUPPORT_URL: 'https://help.acme.example/',
      LOGIN_FAILURE_DELAY_MS: '20',
    })
    const { server } = suite
    const { doc, problems } = await validateDocument(server.container, {
      resources: [
        {
          indicator: ORDERS,
          scopes: [
            {
              name: 'orders:read',
              description: 'Read your orders',
              descriptions: { de: 'Ihre Bestellungen lesen' },
              roles: ['clerk'],
            },
          ],
        },
      ],
      clients: [
        {
          client_id: 'shop',
          client_name: 'Acme Shop',
          client_secret: SECRET,
          redirect_uris: [callback()],
          client_uri: sideUrl,
          grant_types: ['authorization_code'],
          response_types: ['code'],
          scope: 'openid email profile orders:read',
        },
      ],
      users: [
        { email: 'dora@example.com', password: PASSWORD, roles: ['clerk'] },
        { email: 'emil@example.com', password: PASSWORD, roles: ['clerk'] },
      ],
    })
    expect(problems).toEqual([])
    await applyDocument(server.container, doc!)
    config = await oidc.discovery(new URL(server.url), 'shop', SECRET, oidc.ClientSecretBasic(SECRET), {
      execute: [oidc.allowInsecureRequests],
    })
  }, 120_000)
  afterAll(async () => {
    await suite?.close()
    side?.close()
  })

  /** A fresh browser profile speaking `locale` (its Accept-Language); screenshots on failure. */
  async function inBrowser(name: string, locale: string, fn: (page: Page) => Promise<void>) {
    const context: BrowserContext = await suite.browser.newContext({ baseURL: suite.server.url, locale })
    try {
      await fn(await context.newPage())
    } catch (err) {
      let i = 0
      for (const p of context.pages())
        await p.screenshot({ path: path.join(shots, `i18n-${name}-${i++}.png`), fullPage: true }).catch(() => undefined)
      console.error(`browser test "${name}" failed; screenshots in ${shots}`)
      throw err
    } finally {
      await context.close().catch(() => undefined)
    }
  }

  async function authorize(page: Page, extra: Record<string, string> = {}) {
    const verifier = oidc.randomPKCECodeVerifier()
    const state = oidc.randomState()
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: callback(),
      scope: 'openid email profile orders:read',
      resource: ORDERS,
      state,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      ...extra,
    })
    await page.goto(url.href)
    return { verifier, state }
  }

  /** The brand on a page: name in the title, logo loaded (the CSP allowed its origin), colours applied. */
  async function expectBrand(page: Page) {
    expect(await page.title()).toContain('Acme ID')
    const logo = page.locator('#brand img')
    expect(await logo.getAttribute('alt')).toBe('Acme ID')
    await expect
      .poll(() =>
        logo.evaluate(
          (img) =>
            (img as unknown as { complete: boolean; naturalWidth: number }).complete &&
            (img as unknown as { naturalWidth: number }).naturalWidth,
        ),
      )
      .toBe(1)
    expect(
      await page
        .locator('button[type=submit]')
        .first()
        .evaluate((b) => (globalThis as unknown as Dom).getComputedStyle(b).backgroundColor),
    ).toBe('rgb(170, 51, 0)')
    expect(
      await page.evaluate(() => {
        const w = globalThis as unknown as Dom
        return w.getComputedStyle(w.document.documentElement).backgroundColor
      }),
    ).toBe('rgb(253, 246, 227)')
    expect(await page.locator('#support-link').getAttribute('href')).toBe('https://help.acme.example/')
  }

  it('ui_locales=de: an English browser gets the sign-in and consent pages in German, with the brand and scope descriptions', async () => {
    await inBrowser('ui-locales', 'en-US', async (page) => {
      const { verifier, state } = await authorize(page, { ui_locales: 'fr de' })
      await page.waitForURL(/\/interaction\//)
      expect(await page.locator('html').getAttribute('lang')).toBe('de')
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Anmelden')
      expect(await page.locator('main').textContent()).toContain('um mit Acme Shop fortzufahren')
      expect(await page.locator('main').textContent()).not.toMatch(/Sign in|Forgot password|Password/)
      await expectBrand(page)
      // a wrong password: the error, too, is German
      await page.getByLabel('E-Mail').fill('dora@example.com')
      await page.getByLabel('Passwort', { exact: true }).fill('not the password at all')
      await page.getByRole('button', { name: 'Anmelden', exact: true }).click()
      await expect
        .poll(() => page.locator('#login-error').textContent())
        .toBe('E-Mail-Adresse oder Passwort ist falsch.')
      await page.getByLabel('Passwort', { exact: true }).fill(PASSWORD)
      await page.getByRole('button', { name: 'Anmelden', exact: true }).click()

      // consent: each scope by what it lets the application do, in German
      await page.getByRole('button', { name: 'Erlauben' }).waitFor()
      const scopes = await page.locator('#consent-scopes').textContent()
      expect(scopes).toContain('Sie mit Ihrem Konto anmelden')
      expect(scopes).toContain('Ihre E-Mail-Adresse sehen')
      expect(scopes).toContain('Ihren Namen und Ihr Basisprofil sehen')
      expect(scopes).toContain('Ihre Bestellungen lesen')
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Acme Shop Zugriff erlauben')
      const reached = page.waitForURL(`${callback()}**`)
      await page.getByRole('button', { name: 'Erlauben' }).click()
      await reached
      const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), {
        pkceCodeVerifier: verifier,
        expectedState: state,
        idTokenExpected: true,
      })
      expect(tokens.claims()?.email).toBe('dora@example.com')
    })
  })

  it('the consent page in English shows the same scopes in English', async () => {
    await inBrowser('consent-en', 'en-GB', async (page) => {
      await authorize(page)
      await page.getByLabel('Email').fill('emil@example.com')
      await page.getByLabel('Password').fill(PASSWORD)
      await page.getByRole('button', { name: 'Sign in', exact: true }).click()
      await page.getByRole('button', { name: 'Allow' }).waitFor()
      expect(await page.locator('html').getAttribute('lang')).toBe('en')
      const scopes = await page.locator('#consent-scopes').textContent()
      expect(scopes).toContain('Sign you in with your account')
      expect(scopes).toContain('See your email address')
      expect(scopes).toContain('Read your orders')
      await expectBrand(page)
    })
  })

  it('Accept-Language de: German pages and a German, branded mail; the language picker switches and is remembered', async () => {
    await inBrowser('accept-language', 'de-DE', async (page) => {
      await page.goto('/account')
      await page.waitForURL(/\/interaction\//)
      expect(await page.locator('html').getAttribute('lang')).toBe('de')
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Anmelden')
      await expectBrand(page)
      await page.getByRole('link', { name: 'Passwort vergessen?' }).click()
      await page.waitForURL(/\/password\/forgot/)
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Passwort vergessen?')
      await page.getByLabel('E-Mail').fill('dora@example.com')
      await page.getByRole('button', { name: 'Link senden' }).click()
      await expect
        .poll(() => page.locator('#reset-requested').textContent())
        .toContain('ist ein Link zum Wählen eines neuen Passworts unterwegs')

      const mail = await suite.mx.waitFor(
        (m) => m.text?.includes('dora@example.com') === true && m.subject?.includes('Passwort') === true,
      )
      expect(mail.subject).toBe('Ihr Acme ID-Passwort zurücksetzen')
      expect(mail.text).toContain('Jemand, wahrscheinlich Sie, hat darum gebeten')
      expect(mail.text).toContain('innerhalb von 30 Minuten')
      expect(mail.text).toContain('Hilfe und Support: https://help.acme.example/')
      expect(mail.html).toContain('<html lang="de">')
      expect(mail.html).toContain(`src="${sideUrl}/logo.png" alt="Acme ID"`)
      expect(mail.html).toContain('background: #aa3300')
      expect(mail.html).not.toMatch(/Reset your|Someone, probably you/)

      // the link leads to a German page; the picker switches it to English and the cookie keeps it
      await page.goto(linkIn(mail, '/password/reset').href)
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Neues Passwort wählen')
      await page.getByRole('link', { name: 'English' }).click()
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Choose a new password')
      expect(await page.locator('html').getAttribute('lang')).toBe('en')
      await page.goto('/password/forgot')
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Forgot your password?')
      await page.getByRole('link', { name: 'Deutsch' }).click()
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Passwort vergessen?')
    })
  })

  it('an error page says what happened in plain German and offers a way back', async () => {
    await inBrowser('error', 'de', async (page) => {
      const res = await page.goto('/interaction/no-such-interaction')
      expect(res?.status()).toBe(400)
      expect(await page.locator('html').getAttribute('lang')).toBe('de')
      expect(await page.locator('#error-message').textContent()).toContain('Die Anmeldung hat zu lange gedauert')
      expect(await page.getByRole('link', { name: 'Erneut anmelden' }).getAttribute('href')).toBe('/account')
      expect(await page.locator('main').textContent()).not.toContain('session not found')
      await expectBrandName(page)
    })
  })

  async function expectBrandName(page: Page) {
    expect(await page.title()).toContain('Acme ID')
    expect(await page.locator('#brand img').getAttribute('alt')).toBe('Acme ID')
  }
})
