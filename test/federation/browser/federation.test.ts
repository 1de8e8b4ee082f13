import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import * as oidc from 'openid-client'
import { exportJWK, generateKeyPair } from 'jose'
import { totpNow } from '../../helpers/strong-login.ts'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { applyDocument, validateDocument } from '../../../src/declarative/apply.ts'
import { startTestServer, type TestServer } from '../../helpers/server.ts'
import { describeOnBackends } from '../../helpers/backends.ts'
import { CHROMIUM, chromiumMissing, launchChromium } from '../../helpers/browser.ts'

/**
 * Sign-in through upstream identity providers (issue 14 §6) in a real Chromium. A SECOND
 * portcullis instance is the upstream OpenID provider (client_secret_basic and private_key_jwt);
 * a tiny OAuth 2.0 server written here is the GitHub-style provider (/user, /user/emails). The
 * relying party (openid-client) checks the ID token our portcullis issues at the end: `sub`,
 * `amr` with `fed` and the upstream's amr. Negative paths: an unverified upstream email, a state
 * and a nonce that do not belong to the sign-in, a disabled user, linking without (or with a
 * wrong) proof.
 */
const missing = chromiumMissing()

const PASSWORD = 'quiet river lamp orbit'
const shots = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-fed-'))
const RP_SECRET = 'rp-secret-0123456789abcdef'
const UP_SECRET = 'upstream-secret-0123456789abcdef'
const HUB_SECRET = 'hub-secret-0123456789abcdef'
const UPSTREAM_TOTP = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP'
const LOCAL_TOTP = 'KRUGS4ZANFZSAYJAORSXG5BAONSWG4TF'

/** The GitHub-style OAuth 2.0 server: who "signs in" there next, and what it answers. */
interface HubUser {
  id: number
  login: string
  name: string
  org: string
  emails: { email: string; primary: boolean; verified: boolean }[]
}
function hubServer(clientId: string, secret: string) {
  const state = {
    next: undefined as HubUser | undefined,
    codes: new Map<string, { user: HubUser; challenge?: string; redirect: string }>(),
    tokens: new Map<string, HubUser>(),
  }
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url!, 'http://hub')
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    if (url.pathname === '/login/oauth/authorize') {
      // No login page: the user set by the test is signed in and approves at once.
      if (url.searchParams.get('client_id') !== clientId || !state.next) return json(400, { error: 'invalid_request' })
      const code = crypto.randomBytes(16).toString('hex')
      state.codes.set(code, {
        user: state.next,
        challenge: url.searchParams.get('code_challenge') ?? undefined,
        redirect: url.searchParams.get('redirect_uri')!,
      })
      const back = new URL(url.searchParams.get('redirect_uri')!)
      back.searchParams.set('code', code)
      back.searchParams.set('state', url.searchParams.get('state')!)
      res.writeHead(302, { location: back.href })
      return res.end()
    }
    if (url.pathname === '/login/oauth/access_token' && req.method === 'POST') {
      let body = ''
      for await (const chunk of req) body += chunk
      const form = new URLSearchParams(body)
      // RFC 6749 §2.3.1: both halves are form-urlencoded before the Basic encoding.
      const basic = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64')
        .toString()
        .split(':')
        .map((x) => decodeURIComponent(x.replace(/\+/g, ' ')))
      if (basic[0] !== clientId || basic[1] !== secret) return json(401, { error: 'invalid_client' })
      const grant = state.codes.get(form.get('code') ?? '')
      state.codes.delete(form.get('code') ?? '')
      if (!grant || grant.redirect !== form.get('redirect_uri')) return json(400, { error: 'invalid_grant' })
      // RFC 7636 §4.6: the verifier must hash to the challenge.
      const verifier = form.get('code_verifier') ?? ''
      if (grant.challenge !== crypto.createHash('sha256').update(verifier).digest('base64url'))
        return json(400, { error: 'invalid_grant', error_description: 'PKCE' })
      const token = crypto.randomBytes(16).toString('hex')
      state.tokens.set(token, grant.user)
      return json(200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' })
    }
    const user = state.tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''))
    if (!user) return json(401, { message: 'Bad credentials' })
    if (url.pathname === '/user')
      return json(200, { id: user.id, login: user.login, name: user.name, org: user.org, email: null })
    if (url.pathname === '/user/emails') return json(200, user.emails)
    json(404, { message: 'Not Found' })
  })
  return { server, state }
}

describeOnBackends('federation.test.ts', 'sign-in through upstream identity providers', (backend) => {
  if (missing) {
    it.skip(`needs ${CHROMIUM}`, () => {})
    return
  }
  let app: TestServer
  let upstream: TestServer
  let browser: Browser
  let rp: http.Server
  let RP_CALLBACK: string
  let rpConfig: oidc.Configuration
  const hub = hubServer('hub-client', HUB_SECRET)
  let hubUrl: string

  beforeAll(async () => {
    // Different hosts: a browser does not separate cookies by port.
    app = await startTestServer({
      kind: backend.kind,
      redisUrl: backend.redisUrl,
      env: { LOGIN_FAILURE_DELAY_MS: '20' },
    })
    upstream = await startTestServer({ publicHost: '127.0.0.1', env: { LOGIN_FAILURE_DELAY_MS: '20' } })
    rp = http.createServer((_req, res) => res.end('signed in'))
    await new Promise<void>((resolve) => rp.listen(0, '127.0.0.1', resolve))
    RP_CALLBACK = `http://127.0.0.1:${(rp.address() as AddressInfo).port}/cb`
    await new Promise<void>((resolve) => hub.server.listen(0, '127.0.0.1', resolve))
    hubUrl = `http://127.0.0.1:${(hub.server.address() as AddressInfo).port}`

    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
    const privateJwk = { ...(await exportJWK(privateKey)), kid: 'fed-key-1', alg: 'ES256' }
    const publicJwk = { ...(await exportJWK(publicKey)), kid: 'fed-key-1', alg: 'ES256', use: 'sig' }

    // The upstream: our portcullis is a client of it, once with a secret and once with a key.
    const up = await validateDocument(upstream.container, {
      clients: [
        {
          client_id: 'fed-rp',
          client_secret: UP_SECRET,
          redirect_uris: [`${app.url}/federation/corp/callback`],
          scope: 'openid email profile roles',
          skip_consent: true,
        },
        {
          client_id: 'fed-rp-key',
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: { keys: [publicJwk] },
          redirect_uris: [`${app.url}/federation/corpkey/callback`],
          scope: 'openid email profile',
          skip_consent: true,
        },
      ],
      users: [
        {
          email: 'alice@corp.example',
          password: PASSWORD,
          name: 'Alice Upstream',
          email_verified: true,
          roles: ['corp-admin'],
        },
        { email: 'bob@corp.example', password: PASSWORD, email_verified: true },
        { email: 'carl@corp.example', password: PASSWORD, email_verified: true },
        { email: 'eve@corp.example', password: PASSWORD, email_verified: false },
        { email: 'dis@corp.example', password: PASSWORD, email_verified: true },
        { email: 'kay@corp.example', password: PASSWORD, email_verified: true },
        { email: 'nia@corp.example', password: PASSWORD, email_verified: true },
        { email: 'mo@corp.example', password: PASSWORD, email_verified: true, totp_secret: UPSTREAM_TOTP },
        { email: 'tia@corp.example', password: PASSWORD, email_verified: true },
      ],
    })
    expect(up.problems).toEqual([])
    await applyDocument(upstream.container, up.doc!)

    const doc = await validateDocument(app.container, {
      clients: [
        {
          client_id: 'rp',
          client_secret: RP_SECRET,
          redirect_uris: [RP_CALLBACK],
          scope: 'openid email profile roles',
          skip_consent: true,
        },
      ],
      users: [
        // bob and carl already have accounts here: linking needs proof of them.
        { email: 'bob@corp.example', password: PASSWORD, email_verified: true },
        { email: 'carl@corp.example', password: PASSWORD, email_verified: true },
        { email: 'dis@corp.example', password: PASSWORD, email_verified: true, disabled: true },
        // tia has a second factor here: an upstream sign-in without MFA still asks for it.
        { email: 'tia@corp.example', password: PASSWORD, email_verified: true, totp_secret: LOCAL_TOTP },
      ],
      identity_providers: [
        {
          alias: 'corp',
          display_name: 'Corp SSO',
          issuer: upstream.url,
          client_id: 'fed-rp',
          client_secret: UP_SECRET,
          scopes: ['openid', 'email', 'profile', 'roles'],
          default_roles: ['member'],
          role_mappings: [{ value: 'corp-admin', roles: ['ops'] }],
        },
        {
          alias: 'corpkey',
          display_name: 'Corp (key)',
          issuer: upstream.url,
          client_id: 'fed-rp-key',
          private_key_jwk: privateJwk,
        },
        {
          alias: 'hub',
          display_name: 'Hub',
          type: 'oauth2',
          client_id: 'hub-client',
          client_secret: HUB_SECRET,
          authorization_endpoint: `${hubUrl}/login/oauth/authorize`,
          token_endpoint: `${hubUrl}/login/oauth/access_token`,
          userinfo_endpoint: `${hubUrl}/user`,
          emails_endpoint: `${hubUrl}/user/emails`,
          scopes: ['read:user', 'user:email'],
          claims: { subject: 'id' },
          role_mappings: [{ claim: 'org', value: 'acme', roles: ['acme-staff'] }],
        },
      ],
    })
    expect(doc.problems).toEqual([])
    await applyDocument(app.container, doc.doc!)
    rpConfig = await oidc.discovery(new URL(app.url), 'rp', RP_SECRET, oidc.ClientSecretBasic(RP_SECRET), {
      execute: [oidc.allowInsecureRequests],
    })
    browser = await launchChromium()
  }, 180_000)
  afterAll(async () => {
    await browser?.close()
    await app?.close()
    await upstream?.close()
    rp?.close()
    hub.server.close()
  })

  async function inBrowser(name: string, fn: (page: Page) => Promise<void>) {
    const context: BrowserContext = await browser.newContext()
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

  /** Opens an authorization request at our portcullis; `finish` redeems the code at the RP. */
  async function authorize(page: Page) {
    const verifier = oidc.randomPKCECodeVerifier()
    const state = oidc.randomState()
    const nonce = oidc.randomNonce()
    const url = oidc.buildAuthorizationUrl(rpConfig, {
      redirect_uri: RP_CALLBACK,
      scope: 'openid email profile roles',
      state,
      nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    })
    await page.goto('about:blank')
    const reached = page.waitForURL(`${RP_CALLBACK}**`, { timeout: 60_000 })
    reached.catch(() => undefined)
    await page.goto(url.href)
    return {
      async finish() {
        await reached
        return oidc.authorizationCodeGrant(rpConfig, new URL(page.url()), {
          pkceCodeVerifier: verifier,
          expectedState: state,
          expectedNonce: nonce,
          idTokenExpected: true,
        })
      },
    }
  }

  /** At the upstream portcullis: its sign-in form. */
  async function upstreamLogin(page: Page, email: string) {
    await page.waitForURL(`${upstream.url}/**`)
    await page.getByLabel('Email').fill(email)
    await page.getByLabel('Password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
  }

  /**
   * Presses "Sign in with <alias>" without following it: the upstream authorization request our
   * portcullis made (same browser cookies), for a test to tamper with.
   */
  async function upstreamRequest(page: Page, alias: string) {
    await page.locator(`button[data-provider="${alias}"]`).waitFor()
    const action = await page.locator(`form[action$="/federation/${alias}"]`).getAttribute('action')
    const csrf = await page.locator(`form[action$="/federation/${alias}"] input[name=csrf]`).inputValue()
    const r = await page.request.post(`${app.url}${action}`, {
      form: { csrf },
      headers: { origin: app.url },
      maxRedirects: 0,
    })
    expect(r.status()).toBe(303)
    return new URL(r.headers().location!)
  }

  const audit = (action: string) => app.container.audit.list({ action, limit: 1000 })
  const refusals = async () =>
    (await audit('login'))
      .filter((e) => e.outcome === 'failure')
      .map((e) => e.details as { method?: string; provider?: string; reason?: string })

  it('OIDC upstream: a new user is created just in time, with mapped roles; the RP gets an ID token whose amr has fed and the upstream pwd', async () => {
    await inBrowser('jit', async (page) => {
      const flow = await authorize(page)
      await page.getByRole('button', { name: 'Sign in with Corp SSO' }).click()
      await upstreamLogin(page, 'alice@corp.example')
      const tokens = await flow.finish()
      const user = (await app.container.users.findByEmail('alice@corp.example'))!
      expect(user).toMatchObject({ emailVerified: true, name: 'Alice Upstream', passwordHash: null })
      expect([...user.roles].sort()).toEqual(['member', 'ops'])
      const claims = tokens.claims()!
      expect(claims.sub).toBe(user.id)
      expect(claims.amr).toEqual(['fed', 'pwd'])
      // The user is linked by the upstream's subject (not the email).
      const links = await app.container.federation.linksOf(user.id)
      expect(links.map((l) => [l.provider, l.subject])).toEqual([
        ['corp', (await upstream.container.users.findByEmail('alice@corp.example'))!.id],
      ])
      const info = await oidc.fetchUserInfo(rpConfig, tokens.access_token, user.id)
      expect(info).toMatchObject({ email: 'alice@corp.example', email_verified: true })
      expect((await audit('federation.user_created')).map((e) => e.target)).toContain(user.id)
      const login = (await audit('login')).find((e) => e.outcome === 'success' && e.actor === user.id)
      expect(login!.details).toMatchObject({ method: 'fed+pwd', amr: ['fed', 'pwd'] })
    })
    // A second sign-in follows the link: same account, no new user.
    await inBrowser('jit-again', async (page) => {
      const flow = await authorize(page)
      await page.getByRole('button', { name: 'Sign in with Corp SSO' }).click()
      await upstreamLogin(page, 'alice@corp.example')
      const tokens = await flow.finish()
      expect(tokens.claims()!.sub).toBe((await app.container.users.findByEmail('alice@corp.example'))!.id)
    })
  }, 240_000)

  it('an upstream sign-in with MFA: our amr carries the upstream otp and mfa, and acr is MFA', async () => {
    await inBrowser('upstream-mfa', async (page) => {
      const flow = await authorize(page)
      await page.getByRole('button', { name: 'Sign in with Corp SSO' }).click()
      await upstreamLogin(page, 'mo@corp.example')
      await page.getByLabel('Code from your authenticator app').fill(await totpNow(UPSTREAM_TOTP))
      await page.getByRole('button', { name: 'Verify', exact: true }).click()
      const claims = (await flow.finish()).claims()!
      expect(claims.amr).toEqual(['fed', 'pwd', 'otp', 'mfa'])
      expect(claims.acr).toBe('urn:portcullis:acr:mfa')
    })
  }, 120_000)

  it('a linked account with a second factor here is asked for it after an upstream sign-in without MFA', async () => {
    const tia = (await app.container.users.findByEmail('tia@corp.example'))!
    await inBrowser('local-mfa', async (page) => {
      const flow = await authorize(page)
      await page.getByRole('button', { name: 'Sign in with Corp SSO' }).click()
      await upstreamLogin(page, 'tia@corp.example')
      await page.getByLabel('Password of tia@corp.example').fill(PASSWORD)
      await page.getByRole('button', { name: 'Link and continue' }).click()
      // Our own second-factor page, after the link.
      await page.getByLabel('Code from your authenticator app').fill(await totpNow(LOCAL_TOTP))
      await page.getByRole('button', { name: 'Verify', exact: true }).click()
      const claims = (await flow.finish()).claims()!
      expect(claims.sub).toBe(tia.id)
      expect(claims.amr).toEqual(['fed', 'pwd', 'otp', 'mfa'])
    })
  }, 120_000)

  it('private_key_jwt upstream client authentication works', async () => {
    await inBrowser('private-key-jwt', async (page) => {
      const flow = await authorize(page)
      await page.getByRole('button', { name: 'Sign in with Corp (key)' }).click()
      await upstreamLogin(page, 'nia@corp.example')
      const tokens = await flow.finish()
      expect(tokens.claims()!.sub).toBe((await app.container.users.findByEmail('nia@corp.example'))!.id)
      expect(tokens.claims()!.amr).toContain('fed')
    })
  }, 120_000)

  it('an existing account with the same verified email is linked only after its password; a wrong password links nothing', async () => {
    const bob = (await app.container.users.findByEmail('bob@corp.example'))!
    await inBrowser('link', async (page) => {
      const flow = await authorize(page)
      await page.getByRole('button', { name: 'Sign in with Corp SSO' }).click()
      await upstreamLogin(page, 'bob@corp.example')
      await page.getByRole('heading', { name: 'Link your account' }).waitFor()
      expect(await app.container.federation.linksOf(bob.id)).toEqual([])
      await page.getByLabel('Password of bob@corp.example').fill('not the password at all')
      await page.getByRole('button', { name: 'Link and continue' }).click()
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('not correct')
      expect(await app.container.federation.linksOf(bob.id)).toEqual([])
      await page.getByLabel('Password of bob@corp.example').fill(PASSWORD)
      await page.getByRole('button', { name: 'Link and continue' }).click()
      const tokens = await flow.finish()
      expect(tokens.claims()!.sub).toBe(bob.id)
      expect(tokens.claims()!.amr).toEqual(['fed', 'pwd'])
    })
    expect((await app.container.federation.linksOf(bob.id)).map((l) => l.provider)).toEqual(['corp'])
    const refused = (await audit('federation.link_refused')).map((e) => e.details as { reason: string })
    expect(refused).toContainEqual(expect.objectContaining({ reason: 'bad_proof' }))
    expect((await audit('federation.linked')).map((e) => e.actor)).toContain(bob.id)
    // Linked now: the next upstream sign-in needs no proof.
    await inBrowser('linked', async (page) => {
      const flow = await authorize(page)
      await page.getByRole('button', { name: 'Sign in with Corp SSO' }).click()
      await upstreamLogin(page, 'bob@corp.example')
      expect((await flow.finish()).claims()!.sub).toBe(bob.id)
    })
  }, 240_000)

  it('linking is refused without proof: leaving the link page or posting an empty password links nothing and signs nobody in', async () => {
    const carl = (await app.container.users.findByEmail('carl@corp.example'))!
    await inBrowser('link-no-proof', async (page) => {
      await authorize(page)
      await page.getByRole('button', { name: 'Sign in with Corp SSO' }).click()
      await upstreamLogin(page, 'carl@corp.example')
      await page.getByRole('heading', { name: 'Link your account' }).waitFor()
      // "Back to sign in" leaves the link page: nothing is linked, nobody signed in.
      await page.getByRole('link', { name: 'Back to sign in' }).click()
      await page.getByRole('heading', { name: 'Sign in' }).waitFor()
      // An empty password is no proof.
      const uid = new URL(page.url()).pathname.split('/')[2]!
      const csrf = await page.locator('input[name=csrf]').first().inputValue()
      const r = await page.request.post(`${app.url}/interaction/${uid}/federation-link`, {
        form: { csrf, method: 'password', password: '' },
        headers: { origin: app.url },
      })
      expect(r.status()).toBe(401)
    })
    expect(await app.container.federation.linksOf(carl.id)).toEqual([])
    expect(await app.container.login.sessions.list(carl.id)).toEqual([])
  }, 120_000)

  it('an unverified upstream email neither creates nor links an account', async () => {
    await inBrowser('unverified', async (page) => {
      await authorize(page)
      await page.getByRole('button', { name: 'Sign in with Corp SSO' }).click()
      await upstreamLogin(page, 'eve@corp.example')
      await expect.poll(() => page.locator('#federation-error').textContent()).toContain('has not confirmed your email')
    })
    expect(await app.container.users.findByEmail('eve@corp.example')).toBeNull()
    expect(await refusals()).toContainEqual(
      expect.objectContaining({ method: 'fed', provider: 'corp', reason: 'email_unverified' }),
    )
  }, 120_000)

  it('cancelling at the upstream comes back as a refused sign-in with a way back', async () => {
    await inBrowser('cancel', async (page) => {
      await authorize(page)
      await page.getByRole('button', { name: 'Sign in with Corp SSO' }).click()
      await page.waitForURL(`${upstream.url}/**`)
      await page.getByRole('button', { name: 'Cancel' }).click()
      await expect.poll(() => page.locator('#federation-error').textContent()).toContain('did not sign you in')
      await page.getByRole('link', { name: 'Back to sign in' }).click()
      await page.getByRole('button', { name: 'Sign in with Corp SSO' }).waitFor()
    })
    expect(await refusals()).toContainEqual(
      expect.objectContaining({ provider: 'corp', reason: 'upstream_error', detail: 'access_denied' }),
    )
  }, 120_000)

  it('a disabled user cannot sign in through an upstream', async () => {
    await inBrowser('disabled', async (page) => {
      await authorize(page)
      await page.getByRole('button', { name: 'Sign in with Corp SSO' }).click()
      await upstreamLogin(page, 'dis@corp.example')
      await expect.poll(() => page.locator('#federation-error').textContent()).toContain('disabled')
    })
    const dis = (await app.container.users.findByEmail('dis@corp.example'))!
    expect(await app.container.federation.linksOf(dis.id)).toEqual([])
    expect(await refusals()).toContainEqual(expect.objectContaining({ provider: 'corp', reason: 'disabled' }))
  }, 120_000)

  it("state mismatch: an upstream answer whose state is not this sign-in's is refused", async () => {
    await inBrowser('state', async (page) => {
      // The answer at our callback carries a forged state (the right interaction, another random part).
      await authorize(page)
      const authUrl = await upstreamRequest(page, 'corp')
      const [uid] = authUrl.searchParams.get('state')!.split('.')
      await page.goto(`${app.url}/federation/corp/callback?code=forged&state=${uid}.${'A'.repeat(43)}`)
      await expect
        .poll(() => page.locator('#federation-error').textContent())
        .toContain('does not belong to this sign-in')
    })
    expect(await refusals()).toContainEqual(expect.objectContaining({ provider: 'corp', reason: 'state_mismatch' }))
  }, 120_000)

  it('nonce mismatch: an ID token minted for another nonce is refused', async () => {
    await inBrowser('nonce', async (page) => {
      // The request reaches the upstream with another nonce: its ID token carries that one.
      await authorize(page)
      const authUrl = await upstreamRequest(page, 'corp')
      authUrl.searchParams.set('nonce', 'attacker-chosen-nonce')
      await page.goto(authUrl.href)
      await upstreamLogin(page, 'kay@corp.example')
      await expect
        .poll(() => page.locator('#federation-error').textContent())
        .toContain('does not belong to this sign-in')
    })
    expect(await app.container.users.findByEmail('kay@corp.example')).toBeNull()
    expect(await refusals()).toContainEqual(expect.objectContaining({ provider: 'corp', reason: 'nonce_mismatch' }))
  }, 120_000)

  it('GitHub-style OAuth 2.0: the verified primary email from /user/emails creates the account, with roles mapped from /user', async () => {
    hub.state.next = {
      id: 4242,
      login: 'octo',
      name: 'Octo Cat',
      org: 'acme',
      emails: [
        { email: 'old@hub.example', primary: false, verified: true },
        { email: 'octo@hub.example', primary: true, verified: true },
      ],
    }
    await inBrowser('hub', async (page) => {
      const flow = await authorize(page)
      await page.getByRole('button', { name: 'Sign in with Hub' }).click()
      const tokens = await flow.finish()
      const user = (await app.container.users.findByEmail('octo@hub.example'))!
      expect(user).toMatchObject({ name: 'Octo Cat', emailVerified: true, roles: ['acme-staff'] })
      // No ID token upstream, no upstream amr: only `fed`.
      expect(tokens.claims()).toMatchObject({ sub: user.id, amr: ['fed'] })
      expect((await app.container.federation.linksOf(user.id)).map((l) => l.subject)).toEqual(['4242'])
    })
    // An unverified primary address is refused.
    hub.state.next = {
      id: 777,
      login: 'mallory',
      name: 'M',
      org: 'none',
      emails: [{ email: 'bob@corp.example', primary: true, verified: false }],
    }
    await inBrowser('hub-unverified', async (page) => {
      await authorize(page)
      await page.getByRole('button', { name: 'Sign in with Hub' }).click()
      await expect.poll(() => page.locator('#federation-error').textContent()).toContain('has not confirmed your email')
    })
    const bob = (await app.container.users.findByEmail('bob@corp.example'))!
    expect((await app.container.federation.linksOf(bob.id)).map((l) => l.provider)).not.toContain('hub')
    expect(await refusals()).toContainEqual(expect.objectContaining({ provider: 'hub', reason: 'email_unverified' }))
  }, 240_000)

  it('hostile input: an unknown provider, a forged state without an interaction, a bad CSRF token', async () => {
    const forged = await fetch(`${app.url}/federation/corp/callback?code=x&state=not-ours`, { redirect: 'manual' })
    expect(forged.status).toBe(400)
    const bad = await fetch(`${app.url}/federation/corp/callback?code=x&state=${'u'.repeat(20)}.${'A'.repeat(43)}`, {
      redirect: 'manual',
    })
    expect(bad.status).toBe(303)
    const followed = await fetch(new URL(bad.headers.get('location')!, app.url), { redirect: 'manual' })
    expect(followed.status).toBeGreaterThanOrEqual(400)
    expect(followed.status).toBeLessThan(500)
    await inBrowser('hostile', async (page) => {
      await authorize(page)
      await page.getByRole('button', { name: 'Sign in with Corp SSO' }).waitFor()
      const uid = new URL(page.url()).pathname.split('/')[2]!
      const csrf = await page.locator('input[name=csrf]').first().inputValue()
      const unknown = await page.request.post(`${app.url}/interaction/${uid}/federation/nobody`, {
        form: { csrf },
        headers: { origin: app.url },
        maxRedirects: 0,
      })
      expect(unknown.status()).toBe(404)
      const noCsrf = await page.request.post(`${app.url}/interaction/${uid}/federation/corp`, {
        form: { csrf: 'wrong' },
        headers: { origin: app.url },
        maxRedirects: 0,
      })
      expect(noCsrf.status()).toBe(403)
    })
  }, 120_000)
})
