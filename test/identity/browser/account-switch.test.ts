import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import * as oidc from 'openid-client'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { applyDocument, validateDocument } from '../../../src/declarative/apply.ts'
import { startTestServer, type TestServer } from '../../helpers/server.ts'
import { describeOnBackends } from '../../helpers/backends.ts'
import { CHROMIUM, chromiumMissing, launchChromium } from '../../helpers/browser.ts'

/**
 * Account switching in a real Chromium: a browser that holds user A's session signs in as
 * user B — for the same client (prompt=login), for another client, and through the "Sign in as
 * someone else" link — and the relying party (openid-client) gets B's ID token, B keeps single
 * sign-on, and A's session is ended the way oidc-provider ends a session (RP-initiated logout
 * semantics). On SQLite, and on PostgreSQL + Redis where oidc-provider's short-lived models
 * (sessions, interactions, codes) live in Redis. Screenshots on failure.
 */
const missing = chromiumMissing()

const PASSWORD = 'quiet river lamp orbit'
const shots = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-browser-'))
const SECRET = { x: 'x-secret-0123456789abcdef', y: 'y-secret-0123456789abcdef' }

describeOnBackends(
  'account-switch.test.ts',
  'account switching in a real browser',
  (backend) => {
    if (missing) {
      it.skip(`needs ${CHROMIUM}`, () => {})
      return
    }
    let server: TestServer
    let browser: Browser
    let rp: http.Server
    let RP_CALLBACK: string
    const subs: Record<string, string> = {}
    const configs: Record<'x' | 'y', oidc.Configuration> = {} as never

    beforeAll(async () => {
      server = await startTestServer({
        kind: backend.kind,
        redisUrl: backend.redisUrl,
        env: { LOGIN_FAILURE_DELAY_MS: '20' },
      })
      rp = http.createServer((_req, res) => res.end('signed in'))
      await new Promise<void>((resolve) => rp.listen(0, '127.0.0.1', resolve))
      RP_CALLBACK = `http://127.0.0.1:${(rp.address() as AddressInfo).port}/cb`
      for (const name of ['ann', 'ben', 'cat', 'dan', 'eli', 'fay', 'gil', 'hal', 'lee']) {
        subs[name] = (await server.container.users.create({ email: `${name}@example.com`, password: PASSWORD })).id
      }
      const client = (id: 'x' | 'y') => ({
        client_id: id,
        client_secret: SECRET[id],
        redirect_uris: [RP_CALLBACK],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        scope: 'openid email offline_access',
      })
      // kim has an authenticator app: her sign-in stops at the second-factor page.
      const { doc, problems } = await validateDocument(server.container, {
        clients: [client('x'), client('y')],
        users: [{ email: 'kim@example.com', password: PASSWORD, totp_secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' }],
      })
      expect(problems).toEqual([])
      await applyDocument(server.container, doc!)
      subs.kim = (await server.container.users.findByEmail('kim@example.com'))!.id
      for (const id of ['x', 'y'] as const) {
        configs[id] = await oidc.discovery(new URL(server.url), id, SECRET[id], oidc.ClientSecretBasic(SECRET[id]), {
          execute: [oidc.allowInsecureRequests],
        })
      }
      browser = await launchChromium()
    }, 120_000)
    afterAll(async () => {
      await browser?.close()
      await server?.close()
      rp?.close()
    })

    /** A fresh browser profile for the test body; on failure a screenshot of each page. */
    async function inBrowser(name: string, fn: (page: Page) => Promise<void>) {
      const context: BrowserContext = await browser.newContext({ baseURL: server.url })
      try {
        await fn(await context.newPage())
      } catch (err) {
        let i = 0
        for (const p of context.pages())
          await p
            .screenshot({ path: path.join(shots, `${backend.kind}-${name}-${i++}.png`), fullPage: true })
            .catch(() => undefined)
        console.error(`browser test "${name}" failed; screenshots in ${shots}`)
        throw err
      } finally {
        await context.close().catch(() => undefined)
      }
    }

    /** Opens an authorization request of client `id` and returns what the RP needs to finish it. */
    async function authorize(page: Page, id: 'x' | 'y', extra: Record<string, string> = {}) {
      const verifier = oidc.randomPKCECodeVerifier()
      const state = oidc.randomState()
      const url = oidc.buildAuthorizationUrl(configs[id], {
        redirect_uri: RP_CALLBACK,
        scope: 'openid email',
        state,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        ...extra,
      })
      // (from a blank page: waitForURL would match the callback of an earlier flow at once)
      await page.goto('about:blank')
      const reached = page.waitForURL(`${RP_CALLBACK}**`, { timeout: 60_000 })
      reached.catch(() => undefined)
      await page.goto(url.href)
      return {
        reached,
        /** Allows the consent page if one comes, waits for the callback and redeems the code. */
        async finish() {
          const allow = page.getByRole('button', { name: 'Allow' })
          const alert = page.getByRole('alert')
          const first = await Promise.race([
            reached.then(() => 'callback' as const),
            allow.waitFor({ timeout: 60_000 }).then(
              () => 'consent' as const,
              () => 'none' as const,
            ),
            alert.waitFor({ timeout: 60_000 }).then(
              () => 'error' as const,
              () => 'none' as const,
            ),
          ])
          if (first === 'error') throw new Error(`error page: ${await alert.textContent()}`)
          if (first === 'consent') await allow.click()
          await reached
          return oidc.authorizationCodeGrant(configs[id], new URL(page.url()), {
            pkceCodeVerifier: verifier,
            expectedState: state,
            idTokenExpected: true,
          })
        },
      }
    }

    /** The userinfo endpoint's status for an access token (200 while the token is live). */
    const userinfo = async (token: string) =>
      (await fetch(configs.x.serverMetadata().userinfo_endpoint!, { headers: { authorization: `Bearer ${token}` } }))
        .status

    async function fillLogin(page: Page, name: string) {
      await page.getByLabel('Email').fill(`${name}@example.com`)
      await page.getByLabel('Password').fill(PASSWORD)
      await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    }

    /** A full sign-in at client `id` (the login form, then consent): the RP's tokens. */
    async function signIn(page: Page, id: 'x' | 'y', name: string, extra: Record<string, string> = {}) {
      const flow = await authorize(page, id, extra)
      await fillLogin(page, name)
      return flow.finish()
    }

    /** prompt=none (OIDC Core 3.1.2.1): single sign-on without any page; the RP's tokens or its error. */
    async function silent(page: Page, id: 'x' | 'y') {
      const flow = await authorize(page, id, { prompt: 'none' })
      await flow.reached
      const cb = new URL(page.url())
      if (cb.searchParams.get('error'))
        return { error: `${cb.searchParams.get('error')}: ${cb.searchParams.get('error_description')}` }
      return { tokens: await flow.finish() }
    }

    it("same client, prompt=login: B gets an ID token for X after A, keeps SSO, and A's session ends", async () => {
      await inBrowser('same-client', async (page) => {
        const a = await signIn(page, 'x', 'ann')
        expect(a.claims()!.sub).toBe(subs.ann)
        const b = await signIn(page, 'x', 'ben', { prompt: 'login' })
        expect(b.claims()!.sub).toBe(subs.ben)
        // B's session is the browser's now: silent SSO for X answers with B.
        const again = await silent(page, 'x')
        expect(again.tokens?.claims()!.sub).toBe(subs.ben)
        // A's sign-in session ended with the switch; B's is the only live one here.
        expect(await server.container.login.sessions.list(subs.ann!)).toEqual([])
        expect(await server.container.login.sessions.list(subs.ben!)).toHaveLength(1)
        // The audit log names the account whose session the switch ended.
        await expect
          .poll(async () => (await server.container.audit.list({ action: 'logout' })).map((e) => e.target))
          .toContain(subs.ann)
        // A's access token (no offline_access) ended with A's session; B's works.
        expect(await userinfo(a.access_token)).toBe(401)
        expect(await userinfo(b.access_token)).toBe(200)
        // RP-initiated logout still ends B's sign-in session (the one linked to B's oidc session).
        await page.goto(oidc.buildEndSessionUrl(configs.x, { id_token_hint: b.id_token! }).href)
        await page.getByRole('button', { name: 'Yes, sign me out' }).click()
        await page.getByText('You are signed out').waitFor()
        expect(await server.container.login.sessions.list(subs.ben!)).toEqual([])
        expect((await silent(page, 'x')).error).toMatch(/^login_required/)
      })
    }, 180_000)

    it("different clients: B signs in to Y after A to X, and B's session persists (prompt=none for Y succeeds)", async () => {
      await inBrowser('other-client', async (page) => {
        const a = await signIn(page, 'x', 'cat')
        expect(a.claims()!.sub).toBe(subs.cat)
        const b = await signIn(page, 'y', 'dan', { prompt: 'login' })
        expect(b.claims()!.sub).toBe(subs.dan)
        const again = await silent(page, 'y')
        expect(again.error).toBeUndefined()
        expect(again.tokens?.claims()!.sub).toBe(subs.dan)
        expect(await server.container.login.sessions.list(subs.dan!)).toHaveLength(1)
        expect(await server.container.login.sessions.list(subs.cat!)).toEqual([])
        // The browser's session is B's: X (which only A used) needs B's consent, never A's sub.
        expect((await silent(page, 'x')).error).toMatch(/^consent_required/)
      })
    }, 180_000)

    it("A's refresh token (offline_access) outlives the switch; A's other tokens end with A's session", async () => {
      await inBrowser('refresh-tokens', async (page) => {
        const offline = await signIn(page, 'x', 'gil', { scope: 'openid email offline_access', prompt: 'consent' })
        expect(offline.refresh_token).toBeTruthy()
        const online = await (await authorize(page, 'y')).finish() // single sign-on, then consent
        expect(online.claims()!.sub).toBe(subs.gil)
        // B switches on X, whose grant for A outlives A's session (offline_access): B still gets
        // B's own grant and sub.
        const b = await signIn(page, 'x', 'hal', { prompt: 'login' })
        expect(b.claims()!.sub).toBe(subs.hal)
        expect((await oidc.fetchUserInfo(configs.x, b.access_token, subs.hal!)).email).toBe('hal@example.com')
        expect(await userinfo(online.access_token)).toBe(401)
        // offline_access is access without the user present (OIDC Core 11): not tied to the browser.
        const refreshed = await oidc.refreshTokenGrant(configs.x, offline.refresh_token!)
        expect(refreshed.claims()!.sub).toBe(subs.gil)
        expect(await userinfo(refreshed.access_token)).toBe(200)
      })
    }, 180_000)

    it('"Sign in as someone else" on the consent page: cancelling keeps A; signing in as B switches', async () => {
      await inBrowser('switch-link', async (page) => {
        await signIn(page, 'x', 'eli')
        // Y asks for consent in A's session: the page says who is signed in and offers the switch.
        let flow = await authorize(page, 'y')
        await page.getByRole('button', { name: 'Allow' }).waitFor()
        expect(await page.locator('form.switch').textContent()).toContain('Signed in as eli@example.com.')
        await page.getByRole('button', { name: 'Sign in as someone else' }).click()
        await page.getByLabel('Email').waitFor()
        expect(await page.locator('#signed-in-as').textContent()).toContain('eli@example.com')
        await page.getByRole('button', { name: 'Cancel' }).click()
        await flow.reached
        expect(new URL(page.url()).searchParams.get('error')).toBe('access_denied')
        expect((await silent(page, 'x')).tokens?.claims()!.sub).toBe(subs.eli)

        flow = await authorize(page, 'y')
        await page.getByRole('button', { name: 'Sign in as someone else' }).click()
        await fillLogin(page, 'fay')
        expect((await flow.finish()).claims()!.sub).toBe(subs.fay)
        expect((await silent(page, 'y')).tokens?.claims()!.sub).toBe(subs.fay)
        expect(await server.container.login.sessions.list(subs.eli!)).toEqual([])
      })
    }, 180_000)

    it('"Sign in as someone else" on the second-factor page goes back to the login form', async () => {
      await inBrowser('switch-mfa', async (page) => {
        const flow = await authorize(page, 'x')
        await fillLogin(page, 'kim')
        await page.getByLabel('Code from your authenticator app').waitFor()
        expect(await page.locator('form.switch').textContent()).toContain('Signing in as kim@example.com.')
        await page.getByRole('button', { name: 'Sign in as someone else' }).click()
        await fillLogin(page, 'lee')
        expect((await flow.finish()).claims()!.sub).toBe(subs.lee)
        expect(await server.container.login.sessions.list(subs.kim!)).toEqual([])
      })
    }, 180_000)

    it('the switch refuses a missing or foreign CSRF token and an unknown interaction', async () => {
      await inBrowser('switch-refusals', async (page) => {
        await signIn(page, 'x', 'ann')
        await authorize(page, 'y')
        await page.getByRole('button', { name: 'Allow' }).waitFor()
        const action = (await page.locator('form.switch').getAttribute('action'))!
        const csrf = await page.locator('form.switch input[name=csrf]').inputValue()
        expect((await page.request.post(action, { form: {}, maxRedirects: 0 })).status()).toBe(403)
        expect(
          (await page.request.post(action, { form: { csrf: `${csrf.slice(0, -2)}xx` }, maxRedirects: 0 })).status(),
        ).toBe(403)
        const unknown = await page.request.post('/interaction/nope/switch', { form: { csrf }, maxRedirects: 0 })
        expect(unknown.status()).toBeGreaterThanOrEqual(400)
        expect(unknown.status()).toBeLessThan(500)
        // Refused attempts changed nothing: Allow still finishes as A.
        await page.getByRole('button', { name: 'Allow' }).click()
        await page.waitForURL(`${RP_CALLBACK}**`)
        expect(new URL(page.url()).searchParams.get('code')).toBeTruthy()
      })
    }, 180_000)
  },
  ['SQLite', 'PostgreSQL + Redis'],
)
