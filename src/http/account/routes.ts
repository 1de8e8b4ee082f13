import crypto from 'node:crypto'
import Router from '@koa/router'
import type { Context, Middleware } from 'koa'
import { z } from 'zod'
import { readForm, readJson } from '../body.ts'
import { AppError } from '../../errors.ts'
import type { UserService } from '../../identity/users.ts'
import type { AuditLog } from '../../audit/log.ts'
import type { StrongLogin } from '../../identity/strong-login.ts'
import type { SessionRecord } from '../../identity/queries/sessions.ts'
import { passwordProblems } from '../../identity/password-policy.ts'
import { RECOVERY_CODE_COUNT } from '../../identity/mfa.ts'
import { ACCOUNT_CLIENT_ID } from '../../oidc/login-policy.ts'
import { accountCodesPage, accountPage, accountTotpPage, signedOutPage, type AccountView } from '../../views/account.ts'
import { hasKey, t } from '../../views/i18n.ts'
import { errorPage } from '../../oidc/interactions/views.ts'
import type { ApiKeyService } from '../../apikeys/service.ts'
import { accountKeyRoutes } from './keys.ts'
import type { EmailVerificationService } from '../../identity/email-verification.ts'
import { accountEmailRoutes } from './email-verification.ts'
import { safeEqual } from '../../crypto/constant-time.ts'

export interface AccountDeps {
  users: UserService
  audit: AuditLog
  login: StrongLogin
  clientIp: (ctx: Context) => string
  csrfKey: Buffer
  passwordMinLength: number
  publicUrl: string
  /** personal API keys at /account/keys (apikeys/) */
  apikeys?: ApiKeyService
  /** refuses form posts from other sites (http/cross-site.ts) */
  formGuard: Middleware
  /** "verify your email" (identity/email-verification.ts) */
  verification?: EmailVerificationService
}

const STATE_COOKIE = 'portcullis_account_state'
const registrationBody = z.object({
  name: z.string().max(64).optional(),
  credential: z
    .object({
      id: z.string().min(1).max(1024),
      rawId: z.string().max(1024),
      type: z.literal('public-key'),
      response: z.record(z.string(), z.unknown()),
    })
    .passthrough(),
})
const idParam = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/)

/**
 * The account pages (`/account`): the user's own profile, password, second factors, sign-in
 * sessions and security events. They sit behind a live sign-in session (the `portcullis_sid`
 * cookie, see identity/sessions.ts); without one the browser is sent through the normal OIDC
 * login (first-party client `portcullis-account`, prompt=login, response_type=none), so the
 * same password, lockout and MFA rules apply and a fresh session is issued at the end.
 * Every form carries a CSRF token bound to the session; every page is `no-store`.
 */
export function accountRouter(deps: AccountDeps) {
  const router = new Router({ prefix: '/account' })
  router.use(deps.formGuard)
  const { login } = deps
  const csrfFor = (sessionId: string) =>
    crypto.createHmac('sha256', deps.csrfKey).update(`account:${sessionId}`).digest('base64url')
  const checkCsrf = (s: SessionRecord, token: string | undefined) => {
    if (!safeEqual(token ?? '', csrfFor(s.id))) {
      throw new AppError('csrf', 'the form expired or was not sent by this site; reload the page and try again', {
        status: 403,
      })
    }
  }
  const meta = (ctx: Context) => ({
    ip: deps.clientIp(ctx),
    userAgent: ctx.get('user-agent') || null,
    requestId: ctx.state.requestId as string,
  })
  const html = (ctx: Context, body: string, status = 200) => {
    ctx.set('Cache-Control', 'no-store')
    ctx.type = 'html'
    ctx.status = status
    ctx.body = body
  }

  async function session(ctx: Context) {
    const s = await login.sessions.resolve(ctx.cookies.get(login.cookie.name, { signed: false }) ?? undefined, {
      ip: deps.clientIp(ctx),
    })
    const user = s ? await deps.users.findById(s.userId) : null
    if (!s || !user || user.disabled) return undefined
    return { s, user }
  }
  /** The signed-in user, or: GET -> sign in first; anything else -> 401. */
  async function require(ctx: Context) {
    const got = await session(ctx)
    if (got) return got
    if (ctx.method === 'GET') {
      ctx.status = 303
      ctx.redirect('/account/login')
      return undefined
    }
    throw new AppError('unauthorized', 'your session ended; sign in again', { status: 401 })
  }
  async function form(ctx: Context, s: SessionRecord) {
    const f = await readForm(ctx)
    checkCsrf(s, f.csrf)
    return f
  }

  async function render(ctx: Context, s: SessionRecord, extra: Partial<AccountView> = {}, status = 200) {
    const user = (await deps.users.findById(s.userId))!
    const [factors, recoveryLeft, sessions, own, keyEvents] = await Promise.all([
      login.mfa.list(user.id),
      login.mfa.remainingRecoveryCodes(user.id),
      login.sessions.list(user.id),
      deps.audit.list({ actor: user.id, limit: 20 }),
      // the key service labels its actors `user:<id>`
      deps.audit.list({ actor: `user:${user.id}`, limit: 20 }),
    ])
    const events = [...own, ...keyEvents].sort((a, b) => b.seq - a.seq).slice(0, 20)
    html(
      ctx,
      accountPage({
        csrf: csrfFor(s.id),
        user,
        factors,
        recoveryLeft,
        minLength: deps.passwordMinLength,
        sessions: sessions.map((x) => ({
          id: x.id,
          current: x.id === s.id,
          userAgent: x.userAgent,
          ip: x.ip,
          createdAt: x.createdAt,
          lastSeenAt: x.lastSeenAt,
          amr: x.amr,
        })),
        events: events.map((e) => ({
          time: e.time,
          action: e.action,
          outcome: e.outcome,
          ip: e.ip,
          details: parseDetails(e.details),
        })),
        ...extra,
      }),
      status,
    )
  }

  router.get('/', async (ctx) => {
    const got = await require(ctx)
    if (!got) return
    const notices: Record<string, string> = {
      password: t('account.notice.password'),
      totp: t('account.notice.totp'),
      passkey: t('account.notice.passkey'),
      removed: t('account.notice.removed'),
      renamed: t('account.notice.renamed'),
      revoked: t('account.notice.revoked'),
      profile: t('account.notice.profile'),
      verify_sent: t('account.notice.verifySent'),
      verify_limited: t('account.notice.verifyLimited'),
      verified: t('account.notice.verified'),
      change_sent: t('account.notice.changeSent'),
    }
    const n = typeof ctx.query.done === 'string' ? notices[ctx.query.done] : undefined
    await render(ctx, got.s, n ? { notice: n } : {})
  })

  // Sign-in through the provider (first-party client, response_type=none, no tokens).
  router.get('/login', async (ctx) => {
    const state = crypto.randomBytes(16).toString('base64url')
    ctx.append(
      'Set-Cookie',
      `${STATE_COOKIE}=${state}; Path=/account; HttpOnly; SameSite=Lax; Max-Age=600${deps.publicUrl.startsWith('https:') ? '; Secure' : ''}`,
    )
    const url = new URL('/auth', deps.publicUrl)
    url.search = new URLSearchParams({
      client_id: ACCOUNT_CLIENT_ID,
      response_type: 'none',
      scope: 'openid',
      prompt: 'login',
      redirect_uri: `${deps.publicUrl}/account/callback`,
      state,
    }).toString()
    ctx.set('Cache-Control', 'no-store')
    ctx.status = 303
    ctx.redirect(url.toString())
  })
  router.get('/callback', async (ctx) => {
    const expected = ctx.cookies.get(STATE_COOKIE, { signed: false }) ?? ''
    const state = typeof ctx.query.state === 'string' ? ctx.query.state : ''
    ctx.append('Set-Cookie', `${STATE_COOKIE}=; Path=/account; HttpOnly; SameSite=Lax; Max-Age=0`)
    if (typeof ctx.query.error === 'string')
      return html(
        ctx,
        errorPage(
          t('error.notSignedInTitle'),
          hasKey(`error.code.${ctx.query.error}`)
            ? t(`error.code.${ctx.query.error}`)
            : String(ctx.query.error_description ?? ctx.query.error),
        ),
        400,
      )
    if (!expected || !safeEqual(state, expected)) {
      return html(ctx, errorPage(t('error.notSignedInTitle'), t('error.notSignedInStart')), 400)
    }
    if (!(await session(ctx))) return html(ctx, errorPage(t('error.notSignedInTitle'), t('error.notSignedInDone')), 400)
    ctx.status = 303
    ctx.redirect('/account')
  })

  router.post('/profile', async (ctx) => {
    const got = await require(ctx)
    if (!got) return
    const f = await form(ctx, got.s)
    const name = (f.name ?? '').trim()
    if (name.length > 200) return render(ctx, got.s, { errors: { profile: t('form.atMost200') } }, 400)
    await deps.users.update(
      got.user.id,
      { name: name || null },
      deps.audit.with(() => ({
        action: 'profile.updated',
        outcome: 'success',
        actor: got.user.id,
        target: got.user.id,
        details: { fields: ['name'] },
        ...meta(ctx),
      })),
    )
    ctx.status = 303
    ctx.redirect('/account?done=profile')
  })

  router.post('/password', async (ctx) => {
    const got = await require(ctx)
    if (!got) return
    const f = await form(ctx, got.s)
    const { user } = got
    const m = meta(ctx)
    // The current password is checked under the same lockout as the sign-in page.
    const verdict = await login.lockout.attempt(user.email, m.ip, m)
    if (!verdict.allowed) return render(ctx, got.s, { errors: { password: [t('form.tooManyAttempts')] } }, 429)
    const current = await deps.users.login(user.email, (f.current_password ?? '').slice(0, 1024))
    if (!current.ok) {
      await deps.audit.record({
        action: 'password.changed',
        outcome: 'failure',
        actor: user.id,
        target: user.id,
        details: { reason: 'wrong_current_password' },
        ...m,
      })
      return render(ctx, got.s, { errors: { password: [t('form.currentPasswordWrong')] } }, 400)
    }
    await login.lockout.succeeded(user.email, m.ip)
    const next = f.new_password ?? ''
    const problems = passwordProblems(next, {
      minLength: deps.passwordMinLength,
      email: user.email,
      userInputs: user.name ? [user.name] : [],
    })
    if (next !== (f.confirm_password ?? '')) problems.push(t('password.mismatch'))
    if (!problems.length && next === f.current_password) problems.push(t('password.sameAsCurrent'))
    if (problems.length) return render(ctx, got.s, { errors: { password: problems } }, 400)
    // A changed password ends every other session (ASVS 3.3.3): the password, those sessions and
    // the record (counting what this transaction ended) commit together (db/audited.ts).
    const { ended } = await deps.users.setPasswordSigningOut(
      user.id,
      next,
      got.s.id,
      deps.audit.with((r) => ({
        action: 'password.changed',
        outcome: 'success',
        actor: user.id,
        target: user.id,
        details: { sessions_ended: r.ended.length },
        ...m,
      })),
    )
    await login.sessions.afterRevoked(ended)
    ctx.status = 303
    ctx.redirect('/account?done=password')
  })

  // TOTP enrolment: the pending secret is kept sealed on the session, never in the page URL.
  router.get('/totp', async (ctx) => {
    const got = await require(ctx)
    if (!got) return
    const { secret, qr } = await login.mfa.startTotp(got.user.email)
    await login.sessions.setChallenge(got.s.id, JSON.stringify({ totp: login.mfa.sealPending(secret, got.s.id) }))
    html(ctx, accountTotpPage({ csrf: csrfFor(got.s.id), qr, secret }))
  })
  router.post('/totp', async (ctx) => {
    const got = await require(ctx)
    if (!got) return
    const f = await form(ctx, got.s)
    const sealed = challengeOf(got.s).totp
    if (!sealed) throw new AppError('wrong_step', 'start again from your account page', { status: 400 })
    const secret = login.mfa.openPending(sealed, got.s.id)
    const first = !(await login.mfa.hasFactor(got.user.id))
    // the factor and its record commit together (db/audited.ts)
    const factor = await login.mfa.confirmTotp(
      got.user.id,
      secret,
      f.code ?? '',
      (f.name ?? '').slice(0, 64),
      deps.audit.with((created) => ({
        action: 'mfa.enrolled',
        outcome: 'success',
        actor: got.user.id,
        target: got.user.id,
        details: { type: 'totp', factor: created.id },
        ...meta(ctx),
      })),
    )
    if (!factor) {
      const { qr } = await login.mfa.totpQr(secret, got.user.email)
      return html(ctx, accountTotpPage({ csrf: csrfFor(got.s.id), qr, secret, error: t('enrol.codeWrong') }), 400)
    }
    await login.sessions.setChallenge(got.s.id, null)
    if (first) return html(ctx, accountCodesPage({ codes: await login.mfa.regenerateRecoveryCodes(got.user.id) }))
    ctx.status = 303
    ctx.redirect('/account?done=totp')
  })

  const jsonCsrf = (ctx: Context, s: SessionRecord) => checkCsrf(s, ctx.get('x-csrf-token') || undefined)
  router.post('/passkeys/options', async (ctx) => {
    const got = await require(ctx)
    if (!got) return
    jsonCsrf(ctx, got.s)
    const options = await login.mfa.registrationOptions(got.user)
    await login.sessions.setChallenge(got.s.id, JSON.stringify({ webauthn: options.challenge }))
    ctx.set('Cache-Control', 'no-store')
    ctx.body = options
  })
  router.post('/passkeys', async (ctx) => {
    const got = await require(ctx)
    if (!got) return
    jsonCsrf(ctx, got.s)
    const parsed = registrationBody.safeParse(await readJson(ctx, 64 * 1024))
    if (!parsed.success)
      throw new AppError('invalid_request', 'expected {"name", "credential": PublicKeyCredential JSON}', {
        status: 400,
      })
    const challenge = challengeOf(got.s).webauthn
    if (!challenge) throw new AppError('wrong_step', 'ask for passkey options first', { status: 400 })
    await login.sessions.setChallenge(got.s.id, null)
    const first = !(await login.mfa.hasFactor(got.user.id))
    try {
      await login.mfa.verifyRegistration(
        got.user.id,
        parsed.data.credential as never,
        challenge,
        parsed.data.name ?? t('passkey.defaultName'),
        deps.audit.with((created) => ({
          action: 'mfa.enrolled',
          outcome: 'success',
          actor: got.user.id,
          target: got.user.id,
          details: { type: 'webauthn', factor: created.id },
          ...meta(ctx),
        })),
      )
    } catch (err) {
      await deps.audit.record({
        action: 'mfa.enrolled',
        outcome: 'failure',
        actor: got.user.id,
        target: got.user.id,
        details: { type: 'webauthn', reason: (err as Error).message.slice(0, 200) },
        ...meta(ctx),
      })
      throw new AppError('passkey_rejected', 'The passkey could not be registered. Try again.', { status: 400 })
    }
    ctx.set('Cache-Control', 'no-store')
    // The first factor comes with recovery codes: the page offers to generate them.
    ctx.body = { redirect: first ? '/account?done=passkey#mfa-h' : '/account?done=passkey' }
  })

  router.post('/factors/:id/delete', async (ctx) => {
    const got = await require(ctx)
    if (!got) return
    await form(ctx, got.s)
    const id = idParam.safeParse(ctx.params.id)
    const removed =
      id.success &&
      (await login.mfa.remove(
        got.user.id,
        id.data,
        deps.audit.with((gone: boolean) =>
          gone
            ? {
                action: 'mfa.removed',
                outcome: 'success',
                actor: got.user.id,
                target: got.user.id,
                details: { factor: id.data },
                ...meta(ctx),
              }
            : null,
        ),
      ))
    if (!removed) throw new AppError('not_found', 'no such factor on your account', { status: 404 })
    ctx.status = 303
    ctx.redirect('/account?done=removed')
  })

  router.post('/factors/:id/rename', async (ctx) => {
    const got = await require(ctx)
    if (!got) return
    const f = await form(ctx, got.s)
    const name = (f.name ?? '').trim()
    if (!name || name.length > 64) return render(ctx, got.s, { errors: { factor: t('account.factorName') } }, 400)
    const id = idParam.safeParse(ctx.params.id)
    const renamed =
      id.success &&
      (await login.mfa.rename(
        got.user.id,
        id.data,
        name,
        deps.audit.with((done) =>
          done
            ? {
                action: 'mfa.renamed',
                outcome: 'success',
                actor: got.user.id,
                target: got.user.id,
                details: { factor: id.data, name },
                ...meta(ctx),
              }
            : null,
        ),
      ))
    if (!renamed) throw new AppError('not_found', 'no such factor on your account', { status: 404 })
    ctx.status = 303
    ctx.redirect('/account?done=renamed')
  })

  router.post('/recovery-codes', async (ctx) => {
    const got = await require(ctx)
    if (!got) return
    await form(ctx, got.s)
    if (!(await login.mfa.hasFactor(got.user.id)))
      throw new AppError('no_factor', 'add a second factor first', { status: 400 })
    const codes = await login.mfa.regenerateRecoveryCodes(
      got.user.id,
      deps.audit.with(() => ({
        action: 'mfa.recovery_codes',
        outcome: 'success',
        actor: got.user.id,
        target: got.user.id,
        details: { count: RECOVERY_CODE_COUNT },
        ...meta(ctx),
      })),
    )
    html(ctx, accountCodesPage({ codes }))
  })

  router.post('/sessions/:id/revoke', async (ctx) => {
    const got = await require(ctx)
    if (!got) return
    await form(ctx, got.s)
    const id = idParam.safeParse(ctx.params.id)
    const n = id.success
      ? await login.sessions.revoke(
          got.user.id,
          [id.data],
          deps.audit.with((rows) =>
            rows.length
              ? {
                  action: 'session.revoked',
                  outcome: 'success',
                  actor: got.user.id,
                  target: got.user.id,
                  details: { session: id.data.slice(0, 12) },
                  ...meta(ctx),
                }
              : null,
          ),
        )
      : 0
    if (!n) throw new AppError('not_found', 'no such session on your account', { status: 404 })
    ctx.status = 303
    ctx.redirect(id.data === got.s.id ? '/account' : '/account?done=revoked')
  })

  async function signOut(ctx: Context, everywhere: boolean) {
    const got = await require(ctx)
    if (!got) return
    await form(ctx, got.s)
    await login.sessions.revoke(
      got.user.id,
      everywhere ? 'all' : [got.s.id],
      deps.audit.with((rows) => ({
        action: 'session.revoked',
        outcome: 'success',
        actor: got.user.id,
        target: got.user.id,
        details: { everywhere, sessions: rows.length },
        ...meta(ctx),
      })),
    )
    ctx.append('Set-Cookie', login.cookie.header(null))
    html(ctx, signedOutPage(everywhere))
  }
  router.post('/logout', (ctx) => signOut(ctx, false))
  router.post('/sessions/revoke-all', (ctx) => signOut(ctx, true))

  if (deps.verification) {
    accountEmailRoutes(router, {
      verification: deps.verification,
      users: deps.users,
      lockout: login.lockout,
      audit: deps.audit,
      require,
      checkCsrf,
      meta,
      renderError: (ctx, s, message, status) => render(ctx, s, { errors: { email: message } }, status),
    })
  }
  if (deps.apikeys)
    accountKeyRoutes(router, {
      apikeys: deps.apikeys,
      login,
      audit: deps.audit,
      require,
      checkCsrf,
      csrfFor,
      html,
      meta,
    })

  return router
}

function challengeOf(s: SessionRecord): { totp?: string; webauthn?: string } {
  try {
    return s.challenge ? (JSON.parse(s.challenge) as { totp?: string; webauthn?: string }) : {}
  } catch {
    return {}
  }
}

function parseDetails(d: unknown): Record<string, unknown> {
  if (d && typeof d === 'object') return d as Record<string, unknown>
  try {
    return typeof d === 'string' ? (JSON.parse(d) as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}
