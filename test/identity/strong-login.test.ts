import * as oidc from 'openid-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import { pgTestUrl, redisTestUrl } from '../../src/db/testing.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { field, UserAgent } from '../helpers/user-agent.ts'
import { CALLBACK, completeToCallback, idTokenClaims, startAuth, submit, totpNow } from '../helpers/strong-login.ts'

/**
 * Strong login at the HTTP level: MFA sign-in and the amr/acr it yields (openid-client as the
 * RP), the negative paths (wrong/replayed TOTP, used recovery codes, CSRF, malformed input),
 * forced enrolment for require_mfa clients, acr_values step-up, and the lockout under 50
 * parallel guesses. Once on SQLite with in-memory counters, once on PostgreSQL + Redis.
 */
const variants = [
  { name: 'SQLite', skip: false, kind: 'sqlite' as const, redis: undefined as string | undefined },
  {
    name: 'PostgreSQL + Redis',
    skip: !pgTestUrl() || !redisTestUrl(),
    kind: 'postgresql' as const,
    redis: redisTestUrl(),
  },
]
if (!pgTestUrl() || !redisTestUrl())
  console.warn('strong login suite on PostgreSQL + Redis skipped: set TEST_DATABASE_URL and TEST_REDIS_URL to run it')

const PASSWORD = 'quiet river lamp orbit'
const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP'
const ACR_MFA = 'urn:portcullis:acr:mfa'

const document = {
  clients: [
    {
      client_id: 'web',
      client_secret: 'web-secret-0123456789abcdef',
      redirect_uris: [CALLBACK],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      scope: 'openid email',
    },
    {
      client_id: 'bank',
      client_secret: 'bank-secret-0123456789abcdef',
      redirect_uris: [CALLBACK],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      scope: 'openid email',
      require_mfa: true,
    },
  ],
  users: [
    { email: 'pat@example.com', password: PASSWORD },
    { email: 'tia@example.com', password: PASSWORD, totp_secret: SECRET },
    { email: 'rex@example.com', password: PASSWORD, totp_secret: 'KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU' },
    { email: 'nia@example.com', password: PASSWORD },
    { email: 'lou@example.com', password: PASSWORD },
    { email: 'ivy@example.com', password: PASSWORD },
  ],
}

describe.each(variants)('strong login over HTTP on $name', ({ skip, kind, redis }) => {
  let server: TestServer
  let web: oidc.Configuration
  let bank: oidc.Configuration
  const discover = (id: string, secret: string) =>
    oidc.discovery(new URL(server.url), id, secret, oidc.ClientSecretBasic(secret), {
      execute: [oidc.allowInsecureRequests],
    })

  beforeAll(async () => {
    if (skip) return
    server = await startTestServer({ kind, redisUrl: redis, env: { LOGIN_FAILURE_DELAY_MS: '10' } })
    const { doc, problems } = await validateDocument(server.container, document)
    expect(problems).toEqual([])
    await applyDocument(server.container, doc!)
    web = await discover('web', 'web-secret-0123456789abcdef')
    bank = await discover('bank', 'bank-secret-0123456789abcdef')
  })
  afterAll(async () => {
    await server?.close()
  })

  async function passwordStep(
    ua: UserAgent,
    config: oidc.Configuration,
    email: string,
    extra: Record<string, string> = {},
  ) {
    const start = await startAuth(ua, config, extra)
    const posted = await submit(ua, start.html, '/login', { email, password: PASSWORD })
    return { ...start, posted }
  }

  it.skipIf(skip)(
    'password only: amr [pwd], acr urn:portcullis:acr:pwd; the sign-in session cookie is HttpOnly and SameSite',
    async () => {
      const ua = new UserAgent(server.url)
      const { posted, verifier } = await passwordStep(ua, web, 'pat@example.com')
      const cookie = posted.headers.getSetCookie().find((c) => c.startsWith('portcullis_sid='))!
      expect(cookie).toMatch(/HttpOnly/)
      expect(cookie).toMatch(/SameSite=Lax/)
      const claims = await idTokenClaims(web, await completeToCallback(ua, server.url, posted), verifier)
      expect(claims.amr).toEqual(['pwd'])
      expect(claims.acr).toBe('urn:portcullis:acr:pwd')
    },
  )

  it.skipIf(skip)(
    'TOTP: wrong code refused, right code gives amr [pwd, otp, mfa] and acr mfa, the same code again is a replay',
    async () => {
      const ua = new UserAgent(server.url)
      const { posted, verifier } = await passwordStep(ua, web, 'tia@example.com')
      expect(posted.status).toBe(303)
      // No sign-in session before the second factor.
      expect(posted.headers.getSetCookie().some((c) => c.startsWith('portcullis_sid='))).toBe(false)
      let page = await (await ua.request(posted.headers.get('location')!)).text()
      expect(page).toContain('Code from your authenticator app')
      const wrong = await submit(ua, page, '/mfa', {
        method: 'totp',
        code: '000000' === (await totpNow(SECRET)) ? '111111' : '000000',
      })
      expect(wrong.status).toBe(401)
      page = await wrong.text()
      expect(page).toContain('That code is not correct')
      expect(page).toMatch(/aria-describedby="code-error"/)
      const code = await totpNow(SECRET)
      const ok = await submit(ua, page, '/mfa', { method: 'totp', code })
      expect(ok.status).toBe(303)
      const claims = await idTokenClaims(web, await completeToCallback(ua, server.url, ok), verifier)
      expect(claims.amr).toEqual(['pwd', 'otp', 'mfa'])
      expect(claims.acr).toBe(ACR_MFA)

      // Another browser replays the same code within its validity window.
      const ua2 = new UserAgent(server.url)
      const second = await passwordStep(ua2, web, 'tia@example.com')
      const page2 = await (await ua2.request(second.posted.headers.get('location')!)).text()
      const replay = await submit(ua2, page2, '/mfa', { method: 'totp', code })
      expect(replay.status).toBe(401)
      expect(await replay.text()).toContain('already used')
    },
  )

  it.skipIf(skip)('recovery codes: each works once (amr otp + mfa), a used or wrong one is refused', async () => {
    const user = (await server.container.users.findByEmail('rex@example.com'))!
    const codes = await server.container.login.mfa.regenerateRecoveryCodes(user.id)
    expect(codes).toHaveLength(10)
    expect(new Set(codes).size).toBe(10)
    const ua = new UserAgent(server.url)
    const { posted, verifier } = await passwordStep(ua, web, 'rex@example.com')
    const page = await (await ua.request(posted.headers.get('location')!)).text()
    const ok = await submit(ua, page, '/mfa', { method: 'recovery', code: codes[3]!.toUpperCase() })
    const claims = await idTokenClaims(web, await completeToCallback(ua, server.url, ok), verifier)
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa'])
    expect(await server.container.login.mfa.remainingRecoveryCodes(user.id)).toBe(9)

    const ua2 = new UserAgent(server.url)
    const again = await passwordStep(ua2, web, 'rex@example.com')
    const page2 = await (await ua2.request(again.posted.headers.get('location')!)).text()
    const used = await submit(ua2, page2, '/mfa', { method: 'recovery', code: codes[3]! })
    expect(used.status).toBe(401)
    const usedPage = await used.text()
    expect(usedPage).toContain('not valid or was already used')
    const bogus = await submit(ua2, usedPage, '/mfa', { method: 'recovery', code: 'nope' })
    expect(bogus.status).toBe(401)
    // Stored hashed: no code appears in the database.
    const rows = await server.container.db.recoveryCode.findMany({ where: { userId: user.id } })
    expect(rows.map((r) => r.codeHash).join()).not.toContain(codes[0]!.replace('-', ''))
  })

  it.skipIf(skip)(
    'CSRF: a form without its token is refused (403); malformed input gets a 4xx, never a 500',
    async () => {
      const ua = new UserAgent(server.url)
      const start = await startAuth(ua, web)
      const action = new URL(start.html.match(/action="([^"]*\/login)"/)![1]!, server.url)
      const noCsrf = await ua.request(action, { form: { email: 'pat@example.com', password: PASSWORD } })
      expect(noCsrf.status).toBe(403)
      const json = await ua.request(action, { method: 'POST', headers: { 'content-type': 'application/json' } })
      expect(json.status).toBe(415)
      const csrf = field(start.html, 'csrf')
      const passkey = await ua.request(action.toString().replace('/login', '/passkey'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      })
      expect(passkey.status).toBe(400)
      const badJson = await fetch(action.toString().replace('/login', '/passkey/options'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{',
      })
      expect(badJson.status).toBeGreaterThanOrEqual(400)
      expect(badJson.status).toBeLessThan(500)
      const wrongStep = await ua.request(action.toString().replace('/login', '/mfa'), {
        form: { csrf, code: '123456' },
      })
      expect(wrongStep.status).toBe(400)
      // The account pages: no session -> sign in first; a POST without a session -> 401.
      const account = await ua.request('/account')
      expect(account.status).toBe(303)
      expect(account.headers.get('location')).toBe('/account/login')
      expect((await ua.request('/account/password', { form: { csrf: 'x' } })).status).toBe(401)
    },
  )

  it.skipIf(skip)(
    'a client with require_mfa forces TOTP enrolment for a user without a factor; recovery codes are shown once',
    async () => {
      const ua = new UserAgent(server.url)
      const { posted, verifier } = await passwordStep(ua, bank, 'nia@example.com')
      const page = await (await ua.request(posted.headers.get('location')!)).text()
      expect(page).toContain('Set up two-step verification')
      const secret = page.match(/id="totp-secret">([A-Z2-7 ]+)</)![1]!.replace(/ /g, '')
      expect(page).toMatch(/<img class="qr" src="data:image\/svg\+xml;base64,/)
      const bad = await submit(ua, page, '/enrol', { code: '12' })
      expect(bad.status).toBe(400)
      const enrolled = await submit(ua, await bad.text(), '/enrol', { code: await totpNow(secret) })
      expect(enrolled.headers.get('cache-control')).toBe('no-store')
      const codesPage = await enrolled.text()
      expect(codesPage.match(/<li><code>[a-z0-9]{5}-[a-z0-9]{5}<\/code><\/li>/g)).toHaveLength(10)
      const done = await submit(ua, codesPage, '/continue', {})
      const claims = await idTokenClaims(bank, await completeToCallback(ua, server.url, done), verifier)
      expect(claims.acr).toBe(ACR_MFA)
      expect(claims.amr).toEqual(['pwd', 'otp', 'mfa'])
    },
  )

  it.skipIf(skip)(
    'forced enrolment by passkey: the JSON endpoints refuse a missing CSRF token, a malformed body, a skipped step and a bad credential',
    async () => {
      const ua = new UserAgent(server.url)
      const { posted } = await passwordStep(ua, bank, 'ivy@example.com')
      const enrolUrl = posted.headers.get('location')!
      const page = await (await ua.request(enrolUrl)).text()
      expect(page).toContain('Set up a passkey')
      const csrf = field(page, 'csrf')
      const json = (path: string, body: unknown, token?: string) =>
        ua.request(`${enrolUrl}${path}`, {
          method: 'POST',
          json: body,
          headers: token ? { 'x-csrf-token': token } : {},
        })
      const credential = {
        id: 'AAAA',
        rawId: 'AAAA',
        type: 'public-key',
        response: { clientDataJSON: 'e30', attestationObject: 'AAAA' },
      }
      expect((await json('/enrol/passkey/options', {})).status).toBe(403) // no CSRF token
      expect((await json('/enrol/passkey', { credential }, csrf)).status).toBe(400) // no options asked
      const malformed = await json('/enrol/passkey', { credential: { id: 42 } }, csrf)
      expect(malformed.status).toBe(400)
      expect(((await malformed.json()) as { error: string }).error).toBe('invalid_request')
      const options = await json('/enrol/passkey/options', {}, csrf)
      expect(options.status).toBe(200)
      expect(options.headers.get('cache-control')).toBe('no-store')
      expect(((await options.json()) as { challenge: string; user: { name: string } }).user.name).toBe(
        'ivy@example.com',
      )
      const bad = await json('/enrol/passkey', { name: 'Fake', credential }, csrf)
      expect(bad.status).toBe(400)
      expect(((await bad.json()) as { error: string }).error).toBe('passkey_rejected')
      const ivy = (await server.container.users.findByEmail('ivy@example.com'))!
      expect(await server.container.login.mfa.list(ivy.id)).toEqual([])
      expect(
        (await server.container.audit.list({ action: 'mfa.enrolled' })).some(
          (e) => e.actor === ivy.id && e.outcome === 'failure',
        ),
      ).toBe(true)
      // The sign-in is still at the enrolment step: the page shows it again.
      expect(await (await ua.request(enrolUrl)).text()).toContain('Set up two-step verification')
    },
  )

  it.skipIf(skip)('acr_values=urn:portcullis:acr:mfa steps up a password-only session', async () => {
    const user = (await server.container.users.findByEmail('lou@example.com'))!
    const ua = new UserAgent(server.url)
    const first = await passwordStep(ua, web, 'lou@example.com')
    await idTokenClaims(web, await completeToCallback(ua, server.url, first.posted), first.verifier)
    // Single sign-on works without acr_values...
    const sso = await startAuth(ua, web)
    expect(sso.callback?.searchParams.get('code')).toBeTruthy()
    // ...but demanding MFA asks for the second factor — not the password again: the live
    // session already proved it.
    await server.container.login.mfa.importTotp(user.id, 'MFRGGZDFMZTWQ2LKMFRGGZDFMZTWQ2LK')
    const step = await startAuth(ua, web, { acr_values: ACR_MFA })
    expect(step.html).toContain('Verify it is you')
    expect(step.html).toContain('requires two-step verification')
    expect(step.html).not.toContain('name="password"')
    const wrong = await submit(ua, step.html, '/mfa', { method: 'totp', code: '000000' })
    expect(wrong.status).toBe(401)
    const ok = await submit(ua, await wrong.text(), '/mfa', {
      method: 'totp',
      code: await totpNow('MFRGGZDFMZTWQ2LKMFRGGZDFMZTWQ2LK'),
    })
    const claims = await idTokenClaims(web, await completeToCallback(ua, server.url, ok), step.verifier)
    expect(claims.acr).toBe(ACR_MFA)
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa'])
    // prompt=login still means a full sign-in, password first.
    const full = await startAuth(ua, web, { acr_values: ACR_MFA, prompt: 'login' })
    expect(full.html).toContain('name="password"')
    // A stranger's browser (no session) gets the password page too.
    expect((await startAuth(new UserAgent(server.url), web, { acr_values: ACR_MFA })).html).toContain('name="password"')
  })

  it.skipIf(skip)(
    'lockout: 50 parallel wrong passwords evaluate at most 5; unknown users look the same; an admin unlock restores access',
    async () => {
      const c = server.container
      const email = 'pat@example.com'
      const ua = new UserAgent(server.url)
      const start = await startAuth(ua, web)
      const attempts = await Promise.all(
        Array.from({ length: 50 }, () => submit(ua, start.html, '/login', { email, password: 'wrong password guess' })),
      )
      const statuses = attempts.map((r) => r.status)
      expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(5)
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(45)
      const evaluated = (await c.audit.list({ action: 'login', limit: 10_000 })).filter(
        (e) => e.target === email && String(e.details).includes('bad_password'),
      )
      expect(evaluated.length).toBeLessThanOrEqual(5)
      expect((await c.audit.list({ action: 'user.locked' })).some((e) => e.target === email)).toBe(true)
      // Even the right password is refused while locked.
      const locked = await submit(ua, start.html, '/login', { email, password: PASSWORD })
      expect(locked.status).toBe(429)
      expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0)
      expect(await locked.text()).toContain('Too many failed attempts')

      // An unknown account: the same status and message as a wrong password. The same cost comes
      // from a full argon2 verification against a throwaway hash (identity/passwords.ts
      // burnVerifyTime); it is measured in bench/constant-time.ts, not asserted on a shared clock.
      const unknown = await submit(ua, start.html, '/login', {
        email: 'nobody@example.com',
        password: 'wrong password guess',
      })
      const wrongPw = await submit(ua, start.html, '/login', {
        email: 'tia@example.com',
        password: 'wrong password guess',
      })
      expect(unknown.status).toBe(wrongPw.status)
      const msg = (h: string) => h.match(/id="login-error" role="alert">([^<]*)</)?.[1]
      expect(msg(await unknown.text())).toBe(msg(await wrongPw.text()))

      await c.login.lockout.unlock(email, 'test-admin')
      expect((await c.audit.list({ action: 'user.unlocked' })).some((e) => e.target === email)).toBe(true)
      const fresh = new UserAgent(server.url)
      const again = await passwordStep(fresh, web, email)
      expect(again.posted.status).toBe(303)
    },
  )
})
