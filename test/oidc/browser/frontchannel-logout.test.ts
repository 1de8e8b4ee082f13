import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Browser, Page } from 'playwright-core'
import * as oidc from 'openid-client'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { applyDocument, validateDocument } from '../../../src/declarative/apply.ts'
import { startTestServer, type TestServer } from '../../helpers/server.ts'
import { describeOnBackends } from '../../helpers/backends.ts'
import { CHROMIUM, chromiumMissing, launchChromium } from '../../helpers/browser.ts'

/**
 * OpenID Connect Front-Channel Logout 1.0 in a real Chromium: a user signed in to three relying
 * parties (openid-client) signs out at one; the page after the confirmation frames the
 * frontchannel_logout_uri of the two that registered one — each served by its own HTTP server
 * here, which records what the iframe asked — with iss and sid where the client requires them,
 * then continues to the post_logout_redirect_uri. Hostile URIs are refused at registration.
 */
const missing = chromiumMissing()
const PASSWORD = 'quiet river lamp orbit'
const SECRET = 'fcl-secret-0123456789abcdef'

interface Rp {
  server: http.Server
  origin: string
  /** the query of each request to /logout (the frontchannel_logout_uri) */
  logouts: URLSearchParams[]
}

async function relyingParty(): Promise<Rp> {
  const rp = { logouts: [] as URLSearchParams[] } as Rp
  rp.server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://rp')
    if (url.pathname === '/logout') rp.logouts.push(url.searchParams)
    // §2: the RP's logout response must not be cached
    res.writeHead(200, { 'content-type': 'text/html', 'cache-control': 'no-cache, no-store' }).end('<p>ok</p>')
  })
  await new Promise<void>((resolve) => rp.server.listen(0, '127.0.0.1', resolve))
  rp.origin = `http://127.0.0.1:${(rp.server.address() as AddressInfo).port}`
  return rp
}

describeOnBackends('frontchannel-logout.test.ts', 'Front-Channel Logout in a real browser', (backend) => {
  if (missing) {
    it.skip(`needs ${CHROMIUM}`, () => {})
    return
  }
  let server: TestServer
  let browser: Browser
  const rps: Record<'a' | 'b' | 'c', Rp> = {} as never
  const configs: Record<'a' | 'b' | 'c', oidc.Configuration> = {} as never

  beforeAll(async () => {
    server = await startTestServer({
      kind: backend.kind,
      redisUrl: backend.redisUrl,
      env: { LOGIN_FAILURE_DELAY_MS: '20', DYNAMIC_REGISTRATION: 'open' },
    })
    for (const id of ['a', 'b', 'c'] as const) rps[id] = await relyingParty()
    await server.container.users.create({ email: 'ann@example.com', password: PASSWORD })
    const client = (id: 'a' | 'b' | 'c') => ({
      client_id: `rp-${id}`,
      client_secret: SECRET,
      redirect_uris: [`${rps[id].origin}/cb`],
      post_logout_redirect_uris: [`${rps[id].origin}/bye`],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      scope: 'openid email',
    })
    const { doc, problems } = await validateDocument(server.container, {
      clients: [
        {
          ...client('a'),
          frontchannel_logout_uri: `${rps.a.origin}/logout`,
          frontchannel_logout_session_required: true,
        },
        { ...client('b'), frontchannel_logout_uri: `${rps.b.origin}/logout?app=b` },
        client('c'),
      ],
    })
    expect(problems).toEqual([])
    await applyDocument(server.container, doc!)
    for (const id of ['a', 'b', 'c'] as const) {
      configs[id] = await oidc.discovery(new URL(server.url), `rp-${id}`, SECRET, oidc.ClientSecretBasic(SECRET), {
        execute: [oidc.allowInsecureRequests],
      })
    }
    browser = await launchChromium()
  }, 120_000)
  afterAll(async () => {
    await browser?.close()
    await server?.close()
    for (const rp of Object.values(rps)) rp.server?.close()
  })

  /** A sign-in (or single sign-on) at client `id` in the page: the RP's tokens. */
  async function signIn(page: Page, id: 'a' | 'b' | 'c') {
    const verifier = oidc.randomPKCECodeVerifier()
    const state = oidc.randomState()
    const callback = `${rps[id].origin}/cb`
    const url = oidc.buildAuthorizationUrl(configs[id], {
      redirect_uri: callback,
      scope: 'openid email',
      state,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    })
    await page.goto('about:blank')
    const reached = page.waitForURL(`${callback}**`, { timeout: 60_000 })
    reached.catch(() => undefined)
    await page.goto(url.href)
    const email = page.getByLabel('Email')
    const allow = page.getByRole('button', { name: 'Allow' })
    for (let step = 0; step < 3; step++) {
      const next = await Promise.race([
        reached.then(() => 'callback' as const),
        email.waitFor({ timeout: 60_000 }).then(() => 'login' as const),
        allow.waitFor({ timeout: 60_000 }).then(() => 'consent' as const),
      ])
      if (next === 'callback') break
      if (next === 'login') {
        await email.fill('ann@example.com')
        await page.getByLabel('Password').fill(PASSWORD)
        await page.getByRole('button', { name: 'Sign in', exact: true }).click()
        await email.waitFor({ state: 'detached', timeout: 60_000 })
      } else {
        await allow.click()
        await allow.waitFor({ state: 'detached', timeout: 60_000 })
      }
    }
    await reached
    const tokens = await oidc.authorizationCodeGrant(configs[id], new URL(page.url()), {
      pkceCodeVerifier: verifier,
      expectedState: state,
      idTokenExpected: true,
    })
    return tokens
  }

  it('discovery advertises front-channel logout with sessions', async () => {
    const meta = configs.a.serverMetadata()
    expect(meta.frontchannel_logout_supported).toBe(true)
    expect(meta.frontchannel_logout_session_supported).toBe(true)
  })

  it('signing out frames each client with a frontchannel_logout_uri (iss and sid where required), then continues', async () => {
    const context = await browser.newContext()
    try {
      const page = await context.newPage()
      const a = await signIn(page, 'a')
      await signIn(page, 'b')
      await signIn(page, 'c')
      // §3: the ID token of a client that requires a session id carries the one the iframe will
      const sid = a.claims()!.sid as string
      expect(sid).toBeTruthy()
      const requested: string[] = []
      page.on('request', (r) => requested.push(r.url()))
      const csp: Record<string, string> = {}
      page.on('response', (r) => {
        if (r.request().resourceType() === 'document' && r.url().startsWith(server.url))
          csp[`${r.request().method()} ${new URL(r.url()).pathname} ${r.status()}`] =
            r.headers()['content-security-policy'] ?? ''
      })
      await page.goto(
        oidc.buildEndSessionUrl(configs.a, {
          id_token_hint: a.id_token!,
          post_logout_redirect_uri: `${rps.a.origin}/bye`,
          state: 'st-1',
        }).href,
      )
      const bye = page.waitForURL(`${rps.a.origin}/bye**`, { timeout: 60_000 })
      await page.getByRole('button', { name: 'Yes, sign me out' }).click()
      await bye
      expect(new URL(page.url()).searchParams.get('state')).toBe('st-1')

      expect(rps.a.logouts).toHaveLength(1)
      expect(Object.fromEntries(rps.a.logouts[0]!)).toEqual({ iss: server.url, sid })
      // no session required: the registered query only, no iss/sid
      expect(rps.b.logouts.map((q) => Object.fromEntries(q))).toEqual([{ app: 'b' }])
      // a client without a frontchannel_logout_uri is not framed
      expect(rps.c.logouts).toEqual([])
      expect(requested.filter((u) => u.startsWith(rps.c.origin))).toEqual([])
      // the CSP lets that one page frame those two origins only
      const confirm = Object.entries(csp).find(([k]) => k.startsWith('POST /session/end/confirm 200'))?.[1]
      expect(confirm).toMatch(
        new RegExp(`frame-src ${rps.a.origin} ${rps.b.origin}$|frame-src ${rps.b.origin} ${rps.a.origin}$`),
      )
      const logoutPage = Object.entries(csp).find(([k]) => k.startsWith('GET /session/end '))?.[1]
      expect(logoutPage).toBeTruthy()
      expect(logoutPage).not.toContain('frame-src')
      // audited, one record per client
      await expect
        .poll(async () =>
          (await server.container.audit.list({ action: 'logout.frontchannel' }))
            .map((e) => e.details?.client_id)
            .sort(),
        )
        .toEqual(['rp-a', 'rp-b'])
      // and the session is over: the next sign-in at A asks for the password again
      await page.goto(
        oidc.buildAuthorizationUrl(configs.a, {
          redirect_uri: `${rps.a.origin}/cb`,
          scope: 'openid',
          code_challenge: 'x'.repeat(43),
          code_challenge_method: 'S256',
        }).href,
      )
      await page.getByLabel('Password').waitFor({ timeout: 60_000 })
    } finally {
      await context.close()
    }
  })

  it('"No, stay signed in": only the client that asked is framed', async () => {
    const context = await browser.newContext()
    try {
      const page = await context.newPage()
      for (const rp of Object.values(rps)) rp.logouts.length = 0
      await signIn(page, 'a')
      const b = await signIn(page, 'b')
      await page.goto(
        oidc.buildEndSessionUrl(configs.b, {
          id_token_hint: b.id_token!,
          post_logout_redirect_uri: `${rps.b.origin}/bye`,
        }).href,
      )
      const bye = page.waitForURL(`${rps.b.origin}/bye**`, { timeout: 60_000 })
      await page.getByRole('button', { name: 'No, stay signed in' }).click()
      await bye
      expect(rps.b.logouts.map((q) => Object.fromEntries(q))).toEqual([{ app: 'b' }])
      expect(rps.a.logouts).toEqual([])
      // the notice to B is audited like the others
      expect(await server.container.audit.list({ action: 'logout.frontchannel' })).toEqual(
        expect.arrayContaining([expect.objectContaining({ details: expect.objectContaining({ client_id: 'rp-b' }) })]),
      )
    } finally {
      await context.close()
    }
  })

  it('refuses hostile frontchannel_logout_uri values at registration (400); accepts a good one', async () => {
    const register = (extra: Record<string, unknown>) =>
      fetch(`${server.url}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: ['https://app.example.com/cb'], ...extra }),
      })
    for (const uri of [
      'javascript:alert(document.domain)',
      'data:text/html,<script>alert(1)</script>',
      'http://app.example.com/logout', // http off loopback
      'https://evil.example.net/logout', // not a redirect_uri's origin
      'https://app.example.com:8443/logout', // another port
      'https://app.example.com/logout#frag',
      'https://user:pw@app.example.com/logout',
      '/relative/logout',
      42,
    ]) {
      const res = await register({ frontchannel_logout_uri: uri })
      expect(res.status, String(uri)).toBe(400)
      expect(((await res.json()) as { error: string }).error).toBe('invalid_client_metadata')
    }
    expect((await register({ frontchannel_logout_session_required: 'yes' })).status).toBe(400)
    const ok = await register({
      frontchannel_logout_uri: 'https://app.example.com/oidc/logout?x=1',
      frontchannel_logout_session_required: true,
    })
    expect(ok.status).toBe(201)
    expect(await ok.json()).toMatchObject({
      frontchannel_logout_uri: 'https://app.example.com/oidc/logout?x=1',
      frontchannel_logout_session_required: true,
    })
    // the import file says the same
    const { problems } = await validateDocument(server.container, {
      clients: [
        {
          client_id: 'bad-fcl',
          client_secret: SECRET,
          redirect_uris: ['https://app.example.com/cb'],
          frontchannel_logout_uri: 'https://evil.example.net/logout',
        },
      ],
    })
    expect(JSON.stringify(problems)).toContain('frontchannel_logout_uri')
  })
})
