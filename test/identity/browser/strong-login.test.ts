import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import * as oidc from 'openid-client'
import { generate } from 'otplib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyDocument, validateDocument } from '../../../src/declarative/apply.ts'
import { startTestServer, type TestServer } from '../../helpers/server.ts'
import { chromiumMissing, launchChromium } from '../../helpers/browser.ts'

/**
 * The sign-in and account pages in a real Chromium (Debian's /usr/bin/chromium driven by
 * playwright-core): password login, TOTP enrolment and sign-in, recovery codes, passkeys with
 * Chromium's virtual authenticator (CDP WebAuthn domain), lockout, password change and session
 * revocation. Every test saves a screenshot when it fails (the directory is printed).
 */
const missing = chromiumMissing()

const PASSWORD = 'quiet river lamp orbit'
const shots = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-browser-'))

describe.skipIf(missing)('strong login in a real browser', () => {
  let server: TestServer
  let browser: Browser
  const contexts: BrowserContext[] = []
  // A relying party's callback: a real listener, so the browser's last hop is an ordinary page.
  let rp: http.Server
  let RP_CALLBACK: string

  beforeAll(async () => {
    server = await startTestServer({ env: { LOGIN_FAILURE_DELAY_MS: '20', LOGIN_MAX_FAILURES: '5' } })
    rp = http.createServer((_req, res) => res.end('signed in'))
    await new Promise<void>((resolve) => rp.listen(0, '127.0.0.1', resolve))
    RP_CALLBACK = `http://127.0.0.1:${(rp.address() as AddressInfo).port}/cb`
    for (const email of [
      'bea@example.com',
      'cal@example.com',
      'dee@example.com',
      'eve@example.com',
      'fox@example.com',
      'gus@example.com',
      'hal@example.com',
    ]) {
      await server.container.users.create({ email, password: PASSWORD })
    }
    const { doc, problems } = await validateDocument(server.container, {
      clients: [
        {
          client_id: 'rp',
          client_secret: 'rp-secret-0123456789abcdef',
          redirect_uris: [RP_CALLBACK],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          scope: 'openid email',
        },
        // Every sign-in to `strict` needs a second factor: users without one enrol first.
        {
          client_id: 'strict',
          client_secret: 'strict-secret-0123456789abcdef',
          redirect_uris: [RP_CALLBACK],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          scope: 'openid email',
          require_mfa: true,
        },
      ],
    })
    expect(problems).toEqual([])
    await applyDocument(server.container, doc!)
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
    await server?.close()
    rp?.close()
  })

  async function newPage() {
    const context = await browser.newContext({ baseURL: server.url })
    contexts.push(context)
    return context.newPage()
  }

  /** Runs a test body; on failure saves a screenshot of every open page and says where. */
  async function withScreenshots(name: string, fn: () => Promise<void>) {
    try {
      await fn()
    } catch (err) {
      let i = 0
      for (const ctx of contexts) {
        for (const p of ctx.pages()) {
          const file = path.join(shots, `${name.replace(/\W+/g, '-')}-${i++}.png`)
          await p.screenshot({ path: file, fullPage: true }).catch(() => undefined)
        }
      }
      console.error(`browser test "${name}" failed; screenshots in ${shots}`)
      throw err
    } finally {
      for (const ctx of contexts.splice(0)) await ctx.close().catch(() => undefined)
    }
  }

  async function signInWithPassword(page: Page, email: string, password = PASSWORD) {
    await page.goto('/account')
    await page.getByLabel('Email').fill(email)
    await page.getByLabel('Password').fill(password)
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
  }
  /** Chromium's virtual authenticator (CDP WebAuthn domain): a platform passkey, or a security key on 'usb'. */
  async function addAuthenticator(page: Page, transport: 'internal' | 'usb' = 'internal') {
    const cdp = await page.context().newCDPSession(page)
    await cdp.send('WebAuthn.enable')
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport,
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    })
  }
  const totpAt = (secret: string, steps = 0) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + steps * 30 })

  it('password login reaches the account page; headers forbid framing and inline scripts', async () => {
    await withScreenshots('password login', async () => {
      const page = await newPage()
      const res = await page.goto('/account')
      expect(page.url()).toContain('/interaction/')
      const headers = res!.headers()
      expect(headers['content-security-policy']).toMatch(/frame-ancestors 'none'/)
      expect(headers['content-security-policy']).not.toMatch(/unsafe-inline/)
      expect(headers['x-frame-options']).toBe('DENY')
      expect(headers['cache-control']).toBe('no-store')
      await page.getByLabel('Email').fill('bea@example.com')
      await page.getByLabel('Password').fill('not the password')
      await page.getByRole('button', { name: 'Sign in', exact: true }).click()
      await expect
        .poll(() => page.getByRole('alert').first().textContent())
        .toContain('Email or password is incorrect.')
      expect(await page.getByLabel('Password').getAttribute('aria-describedby')).toBe('login-error')
      await page.getByLabel('Password').fill(PASSWORD)
      await page.getByRole('button', { name: 'Sign in', exact: true }).click()
      await page.waitForURL(/\/account$/)
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Your account')
      expect(await page.getByLabel('Email').inputValue()).toBe('bea@example.com')
      const cookie = (await page.context().cookies()).find((c) => c.name === 'portcullis_sid')!
      expect(cookie.httpOnly).toBe(true)
      expect(cookie.sameSite).toBe('Lax')
    })
  })

  let recoveryCodes: string[] = []
  let calSecret = ''
  it('TOTP: enrol on the account page (QR + key), recovery codes shown once, then sign in with a code', async () => {
    await withScreenshots('totp', async () => {
      const page = await newPage()
      await signInWithPassword(page, 'cal@example.com')
      await page.waitForURL(/\/account$/)
      await page.getByRole('button', { name: 'Add an authenticator app' }).click()
      expect(await page.locator('img.qr').getAttribute('src')).toMatch(/^data:image\/svg\+xml;base64,/)
      calSecret = (await page.locator('#totp-secret').textContent())!.replace(/\s/g, '')
      await page.getByLabel('Code from the app').fill('000000')
      await page.getByRole('button', { name: 'Add authenticator' }).click()
      await expect.poll(() => page.locator('#code-error').textContent()).toContain('not correct')
      await page.getByLabel('Code from the app').fill(await totpAt(calSecret))
      await page.getByRole('button', { name: 'Add authenticator' }).click()
      recoveryCodes = await page.locator('#recovery-codes code').allTextContents()
      expect(recoveryCodes).toHaveLength(10)
      await page.getByRole('link', { name: 'Back to your account' }).click()
      expect(await page.locator('#recovery-codes').count()).toBe(0) // shown once only
      await page.getByRole('button', { name: 'Sign out', exact: true }).first().click()
      await page.getByText('You are signed out').waitFor()

      await signInWithPassword(page, 'cal@example.com')
      await page.getByLabel('Code from your authenticator app').waitFor()
      // The code used at enrolment is spent; the next step's code is accepted (±1 step).
      await page.getByLabel('Code from your authenticator app').fill(await totpAt(calSecret, 1))
      await page.getByRole('button', { name: 'Verify' }).click()
      await page.waitForURL(/\/account$/)
      expect(await page.locator('#sessions-h + table').textContent()).toContain('pwd, otp, mfa')
    })
  })

  it('recovery code: signs in once, the same code again is refused', async () => {
    await withScreenshots('recovery', async () => {
      expect(recoveryCodes).toHaveLength(10)
      const page = await newPage()
      await signInWithPassword(page, 'cal@example.com')
      await page.getByText('Use a recovery code').click()
      await page.getByLabel('Recovery code').fill(recoveryCodes[0]!)
      await page.getByRole('button', { name: 'Use recovery code' }).click()
      await page.waitForURL(/\/account$/)
      expect(await page.getByText('9 of 10 recovery codes left.').count()).toBe(1)

      const other = await newPage()
      await signInWithPassword(other, 'cal@example.com')
      await other.getByText('Use a recovery code').click()
      await other.getByLabel('Recovery code').fill(recoveryCodes[0]!)
      await other.getByRole('button', { name: 'Use recovery code' }).click()
      await expect.poll(() => other.locator('#recovery-error').textContent()).toContain('already used')
      expect(await other.getByLabel('Recovery code').getAttribute('aria-describedby')).toBe('recovery-error')
    })
  })

  it('passkeys: register with a virtual authenticator, use it as the second factor, then passwordless', async () => {
    await withScreenshots('passkeys', async () => {
      const page = await newPage()
      await addAuthenticator(page)
      await signInWithPassword(page, 'dee@example.com')
      await page.waitForURL(/\/account$/)
      await page.getByLabel('Name for a new passkey').fill('Laptop')
      await page.getByRole('button', { name: 'Add a passkey' }).click()
      await page.waitForURL(/done=passkey/)
      expect(await page.getByRole('cell', { name: 'Laptop', exact: true }).count()).toBe(1)
      // Rename it; a blank name is refused with a message, an unknown factor or a missing CSRF token too.
      await page.locator('details.rename summary').first().click()
      await page.getByLabel('New name for Laptop').fill('   ')
      await page.getByRole('button', { name: 'Save name' }).click()
      expect(await page.getByRole('alert').filter({ hasText: 'A name is required' }).count()).toBe(1)
      await page.locator('details.rename summary').first().click()
      await page.getByLabel('New name for Laptop').fill('Work laptop')
      await page.getByRole('button', { name: 'Save name' }).click()
      await page.waitForURL(/done=renamed/)
      expect(await page.getByRole('cell', { name: 'Work laptop', exact: true }).count()).toBe(1)
      const csrf = await page.locator('input[name=csrf]').first().inputValue()
      expect(
        (
          await page.request.post('/account/factors/not-mine/rename', { form: { csrf, name: 'x' }, maxRedirects: 0 })
        ).status(),
      ).toBe(404)
      const factorId = (await page.locator('form[action$="/rename"]').first().getAttribute('action'))!.split('/')[3]!
      expect(
        (
          await page.request.post(`/account/factors/${factorId}/rename`, { form: { name: 'x' }, maxRedirects: 0 })
        ).status(),
      ).toBe(403)
      await page.getByRole('button', { name: 'Sign out', exact: true }).first().click()

      // Second factor after the password.
      await signInWithPassword(page, 'dee@example.com')
      await page.getByRole('button', { name: 'Use a passkey' }).click()
      await page.waitForURL(/\/account$/)
      expect(await page.locator('#sessions-h + table').textContent()).toContain('pwd, hwk, mfa')
      await page.getByRole('button', { name: 'Sign out', exact: true }).first().click()

      // Passwordless: the discoverable credential alone, with user verification.
      await page.goto('/account')
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click()
      await page.waitForURL(/\/account$/)
      expect(await page.locator('#sessions-h + table').textContent()).toContain('hwk, mfa')
    })
  })

  it('passkeys with a real relying party: openid-client sees amr/acr for passkey-as-second-factor and passwordless', async () => {
    await withScreenshots('passkeys-rp', async () => {
      const page = await newPage()
      await addAuthenticator(page)
      await signInWithPassword(page, 'gus@example.com')
      await page.waitForURL(/\/account$/)
      await page.getByLabel('Name for a new passkey').fill('Phone')
      await page.getByRole('button', { name: 'Add a passkey' }).click()
      await page.waitForURL(/done=passkey/)
      await page.getByRole('button', { name: 'Sign out', exact: true }).first().click()

      const config = await oidc.discovery(
        new URL(server.url),
        'rp',
        'rp-secret-0123456789abcdef',
        oidc.ClientSecretBasic('rp-secret-0123456789abcdef'),
        { execute: [oidc.allowInsecureRequests] },
      )
      // The callback URL the browser lands on is handed to openid-client, as an RP would.
      async function signInAtRp(factor: () => Promise<void>) {
        const verifier = oidc.randomPKCECodeVerifier()
        await page.goto(
          oidc.buildAuthorizationUrl(config, {
            redirect_uri: RP_CALLBACK,
            scope: 'openid email',
            prompt: 'login',
            code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
            code_challenge_method: 'S256',
          }).href,
        )
        const reached = page.waitForURL(`${RP_CALLBACK}**`)
        await factor()
        const allow = page.getByRole('button', { name: 'Allow' })
        // (the consent wait is settled either way, so a page closed later leaves no rejection behind)
        const first = await Promise.race([
          reached.then(() => 'callback' as const),
          allow.waitFor().then(
            () => 'consent' as const,
            () => 'none' as const,
          ),
        ])
        if (first === 'consent') await allow.click()
        await reached
        const callback = new URL(page.url())
        const tokens = await oidc.authorizationCodeGrant(config, callback, {
          pkceCodeVerifier: verifier,
          idTokenExpected: true,
        })
        return tokens.claims()!
      }

      // Password, then the passkey as the second factor.
      const second = await signInAtRp(async () => {
        await page.getByLabel('Email').fill('gus@example.com')
        await page.getByLabel('Password').fill(PASSWORD)
        await page.getByRole('button', { name: 'Sign in', exact: true }).click()
        await page.getByRole('button', { name: 'Use a passkey' }).click()
      })
      expect(second.amr).toEqual(['pwd', 'hwk', 'mfa'])
      expect(second.acr).toBe('urn:portcullis:acr:mfa')

      // Passwordless: the discoverable passkey alone (user verification makes it multi-factor).
      const passwordless = await signInAtRp(async () => {
        await page.getByRole('button', { name: 'Sign in with a passkey' }).click()
      })
      expect(passwordless.amr).toEqual(['hwk', 'mfa'])
      expect(passwordless.acr).toBe('urn:portcullis:acr:mfa')
      expect(passwordless.sub).toBe(second.sub)
    })
  })

  it('forced enrolment offers a passkey too: codes shown once, then the RP sees pwd + hwk', async () => {
    await withScreenshots('forced-passkey', async () => {
      const page = await newPage()
      await addAuthenticator(page, 'usb')
      const config = await oidc.discovery(
        new URL(server.url),
        'strict',
        'strict-secret-0123456789abcdef',
        oidc.ClientSecretBasic('strict-secret-0123456789abcdef'),
        { execute: [oidc.allowInsecureRequests] },
      )
      const verifier = oidc.randomPKCECodeVerifier()
      await page.goto(
        oidc.buildAuthorizationUrl(config, {
          redirect_uri: RP_CALLBACK,
          scope: 'openid email',
          code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
        }).href,
      )
      await page.getByLabel('Email').fill('hal@example.com')
      await page.getByLabel('Password').fill(PASSWORD)
      await page.getByRole('button', { name: 'Sign in', exact: true }).click()
      await page.getByRole('heading', { name: 'Set up two-step verification' }).waitFor()
      expect(await page.locator('img.qr').count()).toBe(1) // the app remains an option
      await page.getByLabel('Name for the passkey').fill('Desk key')
      await page.getByRole('button', { name: 'Set up a passkey' }).click()
      await page.getByRole('heading', { name: 'Two-step verification is on' }).waitFor()
      expect(await page.locator('li > code').count()).toBe(10)
      // Shown once: a reload does not show them again.
      await page.reload()
      expect(await page.locator('li > code').count()).toBe(0)
      expect(await page.textContent('main')).toContain('shown on the previous page')

      const reached = page.waitForURL(`${RP_CALLBACK}**`)
      await page.getByRole('button', { name: 'I saved them, continue' }).click()
      const allow = page.getByRole('button', { name: 'Allow' })
      const first = await Promise.race([
        reached.then(() => 'callback' as const),
        allow.waitFor().then(
          () => 'consent' as const,
          () => 'none' as const,
        ),
      ])
      if (first === 'consent') await allow.click()
      await reached
      const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url()), {
        pkceCodeVerifier: verifier,
        idTokenExpected: true,
      })
      expect(tokens.claims()).toMatchObject({ amr: ['pwd', 'hwk', 'mfa'], acr: 'urn:portcullis:acr:mfa' })
      const hal = (await server.container.users.findByEmail('hal@example.com'))!
      expect((await server.container.login.mfa.list(hal.id)).map((f) => [f.type, f.name])).toEqual([
        ['webauthn', 'Desk key'],
      ])
    })
  })

  it('lockout: after 5 wrong passwords even the right one is refused, with a clear message', async () => {
    await withScreenshots('lockout', async () => {
      const page = await newPage()
      await page.goto('/account')
      for (let i = 0; i < 5; i++) {
        await page.getByLabel('Email').fill('eve@example.com')
        await page.getByLabel('Password').fill(`wrong password ${i}`)
        await page.getByRole('button', { name: 'Sign in', exact: true }).click()
        await page.locator('#login-error').waitFor()
      }
      expect(await page.locator('#login-error').textContent()).toContain('Too many failed attempts')
      await page.getByLabel('Password').fill(PASSWORD)
      await page.getByRole('button', { name: 'Sign in', exact: true }).click()
      await expect.poll(() => page.locator('#login-error').textContent()).toContain('locked for 15 minutes')
    })
  })

  it('password change: the current password is required, weak passwords are explained, the new one works', async () => {
    await withScreenshots('password change', async () => {
      const page = await newPage()
      await signInWithPassword(page, 'fox@example.com')
      await page.waitForURL(/\/account$/)
      const change = async (current: string, next: string) => {
        await page.getByLabel('Current password').fill(current)
        await page.getByLabel('New password', { exact: true }).fill(next)
        await page.getByLabel('Repeat the new password').fill(next)
        await page.getByRole('button', { name: 'Change password' }).click()
      }
      await change('not my password', 'brisk walrus tandem cello')
      await expect
        .poll(() => page.locator('#password-error').textContent())
        .toContain('current password is not correct')
      await change(PASSWORD, 'password1234')
      await expect.poll(() => page.locator('#password-error').textContent()).toContain('common or leaked')
      expect(await page.getByLabel('Current password').getAttribute('aria-describedby')).toBe('password-error')
      await change(PASSWORD, 'brisk walrus tandem cello')
      await page.waitForURL(/done=password/)
      await page.getByRole('button', { name: 'Sign out', exact: true }).first().click()
      await signInWithPassword(page, 'fox@example.com', 'brisk walrus tandem cello')
      await page.waitForURL(/\/account$/)
    })
  })

  it('session revocation: one browser signs the other out; that one must sign in again', async () => {
    await withScreenshots('session revocation', async () => {
      const a = await newPage()
      const b = await newPage()
      await b.setExtraHTTPHeaders({ 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0' })
      await signInWithPassword(a, 'bea@example.com')
      await a.waitForURL(/\/account$/)
      await signInWithPassword(b, 'bea@example.com')
      await b.waitForURL(/\/account$/)
      await a.reload()
      await a.getByRole('button', { name: 'Sign out Firefox on Linux' }).first().click()
      await a.waitForURL(/done=revoked/)
      await b.goto('/account')
      await b.waitForURL(/\/interaction\//)
      expect(await b.getByRole('heading', { level: 1 }).textContent()).toBe('Sign in')
      // "Sign out everywhere" ends this browser too.
      await a.getByRole('button', { name: 'Sign out everywhere' }).click()
      await a.getByText('Every session of your account has ended.').waitFor()
      await a.goto('/account')
      await a.waitForURL(/\/interaction\//)
    })
  })
})
