import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Browser } from 'playwright-core'
import * as oidc from 'openid-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyDocument, validateDocument } from '../../../src/declarative/apply.ts'
import { startTestServer, type TestServer } from '../../helpers/server.ts'
import { chromiumMissing, launchChromium } from '../../helpers/browser.ts'

/**
 * OIDC Core §3.1.2.1: the authorization endpoint takes POST. A relying party on another site
 * posting its authorization request (an auto-submitting form) is a cross-site POST, for which
 * Chromium withholds our SameSite=Lax session cookies. The signed-in user must still get single
 * sign-on (no second login), and the cookies must stay SameSite=Lax.
 */
const missing = chromiumMissing()
const PASSWORD = 'quiet river lamp orbit'

describe.skipIf(missing)('authorization request by POST in a real browser', () => {
  let server: TestServer
  let browser: Browser
  // The relying party: another site (127.0.0.1, while the issuer is localhost). It serves the
  // callback and a page that POSTs an authorization request to the issuer.
  let rp: http.Server
  let RP: string
  let posted: Record<string, string> = {}

  beforeAll(async () => {
    server = await startTestServer()
    rp = http.createServer((req, res) => {
      const url = new URL(req.url!, RP)
      if (url.pathname === '/login-by-post') {
        const fields = Object.entries(posted)
          .map(([k, v]) => `<input type="hidden" name="${k}" value="${v.replace(/"/g, '&quot;')}">`)
          .join('')
        res.setHeader('content-type', 'text/html')
        res.end(
          `<!doctype html><form method="post" action="${server.url}/auth">${fields}</form><script>document.forms[0].submit()</script>`,
        )
        return
      }
      res.end('signed in')
    })
    await new Promise<void>((resolve) => rp.listen(0, '127.0.0.1', resolve))
    RP = `http://127.0.0.1:${(rp.address() as AddressInfo).port}`
    await server.container.users.create({ email: 'ivy@example.com', password: PASSWORD })
    const { doc, problems } = await validateDocument(server.container, {
      clients: [
        {
          client_id: 'rp',
          client_secret: 'rp-secret-0123456789abcdef',
          redirect_uris: [`${RP}/cb`],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          scope: 'openid email',
        },
      ],
    })
    expect(problems).toEqual([])
    await applyDocument(server.container, doc!)
    browser = await launchChromium()
  }, 120_000)
  afterAll(async () => {
    await browser?.close()
    await server?.close()
    rp?.close()
  })

  it('a signed-in user whose relying party POSTs the request gets a code without signing in again; cookies stay SameSite=Lax', async () => {
    const config = await oidc.discovery(
      new URL(server.url),
      'rp',
      'rp-secret-0123456789abcdef',
      oidc.ClientSecretBasic('rp-secret-0123456789abcdef'),
      { execute: [oidc.allowInsecureRequests] },
    )
    const context = await browser.newContext()
    try {
      const page = await context.newPage()
      // first sign-in, by GET
      const verifier = oidc.randomPKCECodeVerifier()
      await page.goto(
        oidc.buildAuthorizationUrl(config, {
          redirect_uri: `${RP}/cb`,
          scope: 'openid email',
          code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
        }).href,
      )
      await page.getByLabel('Email').fill('ivy@example.com')
      await page.getByLabel('Password').fill(PASSWORD)
      await page.getByRole('button', { name: 'Sign in', exact: true }).click()
      const reached = page.waitForURL(`${RP}/cb**`)
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
      for (const c of (await context.cookies(server.url)).filter((c) => c.name.startsWith('_session')))
        expect(c.sameSite, c.name).toBe('Lax')

      // then the relying party posts a new authorization request from its own site
      const second = oidc.randomPKCECodeVerifier()
      posted = {
        client_id: 'rp',
        response_type: 'code',
        redirect_uri: `${RP}/cb`,
        scope: 'openid email',
        state: 'by-post',
        code_challenge: await oidc.calculatePKCECodeChallenge(second),
        code_challenge_method: 'S256',
      }
      await page.goto(`${RP}/login-by-post`)
      await page.waitForURL(
        (u) => u.origin === RP && u.pathname === '/cb' && u.searchParams.get('state') === 'by-post',
        { timeout: 30_000 },
      )
      const callback = new URL(page.url())
      expect(callback.searchParams.get('code')).toBeTruthy()
      const tokens = await oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: second,
        expectedState: 'by-post',
      })
      expect(tokens.claims()!.sub).toBe((await server.container.users.findByEmail('ivy@example.com'))!.id)
    } finally {
      await context.close()
    }
  }, 120_000)
})
