import crypto from 'node:crypto'
import Router from '@koa/router'
import type { Context, Middleware } from 'koa'
import type Provider from 'oidc-provider'
import { z } from 'zod'
import { readForm, readJson } from '../../http/body.ts'
import { AppError } from '../../errors.ts'
import type { UserService } from '../../identity/users.ts'
import type { UserRecord } from '../../identity/queries.ts'
import type { AuditLog } from '../../audit/log.ts'
import type { StrongLogin } from '../../identity/strong-login.ts'
import { ACR_MFA, ACR_PWD, passkeyAmr } from '../../identity/mfa.ts'
import { splitByHoldings, type HoldingsOf } from '../holdings.ts'
import { changePasswordPage, consentPage, loginPage } from './views.ts'
import { codesPage, enrolPage, lockedMessage, mfaPage } from './mfa-views.ts'
import { passwordProblems } from '../../identity/password-policy.ts'
import { ACCOUNT_SWITCH, mfaDemanded } from '../login-policy.ts'
import { safeEqual } from '../../crypto/constant-time.ts'
import { preferUiLocales, t, withUiLocales } from '../../views/i18n.ts'
import type { ScopeDescriber } from '../scope-descriptions.ts'
import type { FederationInteractions } from '../../federation/routes.ts'
import type { EmailVerificationService } from '../../identity/email-verification.ts'
import type { SecurityNotices } from '../../identity/security-notices.ts'
import { verifyFirstPage } from '../../views/registration.ts'

export interface InteractionDeps {
  provider: () => Provider
  users: UserService
  audit: AuditLog
  csrfKey: Buffer
  passwordMinLength: number
  login: StrongLogin
  clientIp: (ctx: Context) => string
  /** refuses form posts from other sites (http/cross-site.ts) */
  formGuard: Middleware
  /** What a user's roles hold (oidc/holdings.ts): consent grants only those resource scopes. */
  holdings?: HoldingsOf
  /** human descriptions of scopes for the consent page (oidc/scope-descriptions.ts) */
  describeScopes?: ScopeDescriber
  /** Sign-in through upstream identity providers (federation/): buttons and their routes. */
  federation?: FederationInteractions
  /** "send the link again" on the verify-your-email-first page (issue 14 §4) */
  verification?: EmailVerificationService
  /** self-registration is on: the sign-in page links to /register */
  registration?: boolean
  /** security notices: a sign-in from a browser new to the account is mailed (issue 14 §5) */
  notices?: SecurityNotices
}

/**
 * A sign-in that passed its first factor but has a step left (kept in the interaction, which
 * oidc-provider stores server-side and binds to a cookie):
 * - password_change: the password must be replaced (e.g. the generated first admin password);
 * - mfa: the user has a second factor and must use one;
 * - enrol: MFA is required (administrator or client) and the user has none yet: set up TOTP;
 * - codes: enrolment done, recovery codes shown; continue finishes the sign-in;
 * - verify_email: a self-registered account whose address is not verified yet: nothing is
 *   issued until it is (a page with "send the link again" and "continue").
 */
type Step = 'verify_email' | 'password_change' | 'mfa' | 'enrol' | 'codes'
interface Pending {
  accountId: string
  email: string
  amr: string[]
  step: Step
  /** the TOTP secret being enrolled, sealed to this interaction */
  totp?: string
  /** the WebAuthn challenge of the passkey ceremony in progress */
  challenge?: string
  /** recovery codes to show once on the next page (after a passkey enrolment), sealed */
  codes?: string
}
const pendingOf = (interaction: { result?: unknown }): Pending | undefined =>
  (interaction.result as { pending?: Pending } | undefined)?.pending
/** The user chose "Sign in as someone else" on a page of this (login) interaction. */
const switchingOf = (interaction: { result?: unknown }) =>
  (interaction.result as { switchAccount?: unknown } | undefined)?.switchAccount === true

const credentialBody = z.object({
  name: z.string().trim().max(64).optional(),
  credential: z
    .object({
      id: z.string().min(1).max(1024),
      rawId: z.string().max(1024),
      type: z.literal('public-key'),
      response: z.record(z.string(), z.unknown()),
    })
    .passthrough(),
})
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * The login, second-factor and consent pages oidc-provider sends the user agent to
 * (`/interaction/:uid`). Each form carries a CSRF token bound to the interaction (HMAC of its
 * uid); the interaction itself is also bound to a cookie by oidc-provider. JSON endpoints (the
 * passkey ceremony) take the same token in the X-CSRF-Token header.
 */
export function interactionRouter(deps: InteractionDeps) {
  /** The requested resource scopes split by what the signed-in user's roles hold now. */
  async function heldSplit(accountId: string | undefined, requested: Record<string, string[]>) {
    if (!deps.holdings) return { granted: Object.entries(requested), refused: [] as [string, string[]][] }
    const user = accountId ? await deps.users.findById(accountId) : null
    return splitByHoldings(requested, await deps.holdings(user?.roles ?? []))
  }
  const router = new Router({ prefix: '/interaction' })
  router.use(deps.formGuard)
  const { login } = deps
  const csrfFor = (uid: string) =>
    crypto.createHmac('sha256', deps.csrfKey).update(`interaction:${uid}`).digest('base64url')
  const checkCsrf = (uid: string, token: string | undefined) => {
    if (!safeEqual(token ?? '', csrfFor(uid))) {
      throw new AppError('csrf', 'the form expired or was not sent by this site; go back and try again', {
        status: 403,
      })
    }
  }
  const noStore = (ctx: Context) => {
    ctx.set('Cache-Control', 'no-store')
    ctx.type = 'html'
  }
  // Every step of the interaction speaks the language the client asked for (OIDC Core §3.1.2.1 ui_locales).
  const details = async (ctx: Context) => {
    const interaction = await deps.provider().interactionDetails(ctx.req, ctx.res)
    preferUiLocales(interaction.params.ui_locales)
    return interaction
  }
  type Interaction = Awaited<ReturnType<typeof details>>
  const clientOf = (clientId: unknown) => deps.provider().Client.find(String(clientId))
  const clientName = async (clientId: unknown) => {
    const client = await clientOf(clientId)
    return client?.clientName ?? String(clientId)
  }
  const meta = (ctx: Context) => ({
    ip: deps.clientIp(ctx),
    userAgent: ctx.get('user-agent') || null,
    requestId: ctx.state.requestId as string,
  })

  /** Does this sign-in need a second factor even if the user has none (then: enrol)? */
  async function demanded(interaction: Interaction) {
    if (await login.requireMfaForAll()) return t('mfa.requiredForAll')
    const client = await clientOf(interaction.params.client_id)
    if (mfaDemanded(interaction.params.acr_values, client?.metadata()))
      return t('mfa.requiredByClient', { client: client?.clientName ?? String(interaction.params.client_id) })
    return undefined
  }

  /**
   * Ends the interaction with a login. A new sign-in session (and cookie) is issued here, after
   * every factor, and the one the browser had is retired: no session fixation. oidc-provider
   * rotates its own session id at the same moment.
   */
  async function finish(
    ctx: Context,
    interaction: Interaction,
    user: { id: string; email: string },
    amr: string[],
    json = false,
  ) {
    const acr = amr.includes('mfa') ? ACR_MFA : ACR_PWD
    const old = ctx.cookies.get(login.cookie.name, { signed: false })
    if (old) await login.sessions.endByToken(old)
    const m = meta(ctx)
    const { token, record } = await login.sessions.create({
      userId: user.id,
      amr,
      acr,
      ip: m.ip,
      userAgent: m.userAgent,
    })
    ctx.append('Set-Cookie', login.cookie.header(token))
    if (deps.notices)
      ctx.append(
        'Set-Cookie',
        deps.notices.signedIn(ctx.cookies.get(deps.notices.cookieName, { signed: false }) ?? undefined, user.id, m),
      )
    await deps.audit.record({
      action: 'login',
      outcome: 'success',
      actor: user.id,
      target: user.email,
      details: {
        method: amr.filter((a) => a !== 'mfa').join('+'),
        amr,
        acr,
        client_id: interaction.params.client_id,
        session: record.id.slice(0, 12),
      },
      ...meta(ctx),
    })
    // A resolved prompt=create (below) is carried along: without it the request would ask again.
    const created = (interaction.lastSubmission as { create?: unknown } | undefined)?.create
    const result = {
      login: { accountId: user.id, amr, acr, ts: Math.floor(Date.now() / 1000) },
      ...(created ? { create: created } : {}),
    }
    if (json) {
      const redirect = await deps
        .provider()
        .interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false })
      ctx.set('Cache-Control', 'no-store')
      ctx.body = { redirect }
      return
    }
    await deps.provider().interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false })
    ctx.respond = false
  }

  /** Moves to the next step of a sign-in whose first factor was accepted. */
  async function next(ctx: Context, interaction: Interaction, user: UserRecord, amr: string[], json = false) {
    let step: Step | undefined
    if (user.mustVerifyEmail && !user.emailVerified) step = 'verify_email'
    else if (user.mustChangePassword && amr.includes('pwd')) step = 'password_change'
    else if (!amr.includes('mfa') && (await login.mfa.hasFactor(user.id))) step = 'mfa'
    else if (!amr.includes('mfa') && (await demanded(interaction))) step = 'enrol'
    if (!step) return finish(ctx, interaction, user, amr, json)
    interaction.result = { pending: { accountId: user.id, email: user.email, amr, step } satisfies Pending }
    await interaction.persist()
    if (step === 'verify_email')
      void deps.audit.record({
        action: 'login',
        outcome: 'failure',
        actor: user.id,
        target: user.email,
        details: { reason: 'email_not_verified', client_id: interaction.params.client_id },
        ...meta(ctx),
      })
    if (step === 'mfa')
      void deps.audit.record({
        action: 'mfa.challenge',
        outcome: 'info',
        actor: user.id,
        target: user.email,
        details: { client_id: interaction.params.client_id },
        ...meta(ctx),
      })
    const url = `/interaction/${interaction.uid}`
    if (json) {
      ctx.body = { redirect: url }
      return
    }
    ctx.status = 303
    ctx.redirect(url)
  }

  async function pendingUser(interaction: Interaction, step: Step) {
    const pending = pendingOf(interaction)
    if (interaction.prompt.name !== 'login' || pending?.step !== step)
      throw new AppError('wrong_step', 'this sign-in step is not active; start again', { status: 400 })
    const user = await deps.users.findById(pending.accountId)
    if (!user || user.disabled) throw new AppError('wrong_step', 'the account is not available', { status: 400 })
    return { pending, user }
  }

  async function renderMfa(
    ctx: Context,
    interaction: Interaction,
    userId: string,
    errors: { error?: string; recoveryError?: string } = {},
  ) {
    const factors = await login.mfa.list(userId)
    noStore(ctx)
    ctx.body = mfaPage({
      uid: interaction.uid,
      csrf: csrfFor(interaction.uid),
      hasTotp: factors.some((f) => f.type === 'totp'),
      hasPasskey: factors.some((f) => f.type === 'webauthn'),
      notice: await demanded(interaction),
      email: pendingOf(interaction)?.email,
      ...errors,
    })
  }

  /** The email of the account whose live session this interaction runs in, if any. */
  async function sessionEmail(interaction: Interaction) {
    const accountId = (interaction.session as { accountId?: string } | undefined)?.accountId
    return accountId ? (await deps.users.findById(accountId))?.email : undefined
  }

  async function renderEnrol(ctx: Context, interaction: Interaction, pending: Pending, error?: string) {
    // A new secret on first display; the same one while the user is typing codes.
    let secret: string
    if (pending.totp) secret = login.mfa.openPending(pending.totp, interaction.uid)
    else {
      secret = (await login.mfa.startTotp(pending.email)).secret
      interaction.result = { pending: { ...pending, totp: login.mfa.sealPending(secret, interaction.uid) } }
      await interaction.persist()
    }
    const enrol = await login.mfa.totpQr(secret, pending.email)
    noStore(ctx)
    ctx.body = enrolPage({
      uid: interaction.uid,
      csrf: csrfFor(interaction.uid),
      qr: enrol.qr,
      secret,
      error,
      reason: (await demanded(interaction)) ?? t('mfa.required'),
    })
  }

  /**
   * Grants what the consent prompt asks for, within what the user holds, and finishes the
   * interaction: from the consent form, or without a page for a client with `skip_consent`.
   */
  async function grantConsent(ctx: Context, interaction: Interaction, accountId: string, skipped: boolean) {
    const { prompt, params } = interaction
    const provider = deps.provider()
    const grant = interaction.grantId
      ? (await provider.Grant.find(interaction.grantId))!
      : new provider.Grant({ accountId, clientId: String(params.client_id) })
    const d = prompt.details as {
      missingOIDCScope?: string[]
      missingOIDCClaims?: string[]
      missingResourceScopes?: Record<string, string[]>
    }
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '))
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims)
    // Issue 10 §1: resource scopes the user's roles do not hold are rejected, not granted.
    const { granted, refused } = await heldSplit(accountId, d.missingResourceScopes ?? {})
    for (const [indicator, scopes] of granted) grant.addResourceScope(indicator, scopes.join(' '))
    for (const [indicator, scopes] of refused) grant.rejectResourceScope(indicator, scopes.join(' '))
    const grantId = await grant.save()
    await deps.audit.record({
      action: 'consent.granted',
      outcome: 'success',
      actor: accountId,
      target: String(params.client_id),
      details: {
        scopes: d.missingOIDCScope ?? [],
        resources: Object.keys(d.missingResourceScopes ?? {}),
        ...(refused.length ? { refused: Object.fromEntries(refused) } : {}),
        ...(skipped ? { skipped: true } : {}),
      },
      ...meta(ctx),
    })
    await provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true })
    ctx.respond = false
  }
  /**
   * A first-party client (`skip_consent: true`, confidential only: see provider.ts) has its
   * consent given without a page — unless the client itself asked for one with prompt=consent
   * (OIDC Core §3.1.2.1).
   */
  async function skipsConsent(interaction: Interaction) {
    const asked = String(interaction.params.prompt ?? '')
      .split(' ')
      .includes('consent')
    if (asked || !interaction.session?.accountId) return false
    const client = await deps.provider().Client.find(String(interaction.params.client_id))
    return client?.metadata().skip_consent === true
  }
  router.get('/:uid', async (ctx) => {
    const interaction = await details(ctx)
    const { uid, prompt, params } = interaction
    noStore(ctx)
    const pending = pendingOf(interaction)
    if (prompt.name === 'login' && pending) {
      if (pending.step === 'verify_email') {
        ctx.body = verifyFirstPage({ uid, csrf: csrfFor(uid), email: pending.email })
        return
      }
      if (pending.step === 'password_change') {
        ctx.body = changePasswordPage({ uid, csrf: csrfFor(uid), minLength: deps.passwordMinLength })
        return
      }
      if (pending.step === 'mfa') return renderMfa(ctx, interaction, pending.accountId)
      if (pending.step === 'enrol') return renderEnrol(ctx, interaction, pending)
      if (pending.step === 'codes') {
        // After a passkey enrolment the codes come here, once: the script followed a redirect.
        const codes = pending.codes ? (JSON.parse(login.mfa.openPending(pending.codes, uid)) as string[]) : undefined
        if (codes) {
          interaction.result = { pending: { ...pending, codes: undefined } }
          await interaction.persist()
        }
        ctx.body = codesPage({ uid, csrf: csrfFor(uid), codes })
        return
      }
    }
    if (prompt.name === 'create') {
      // Prompt Create 1.0: the sign-up page first; its "Back to sign in" (`?signin=1`) resolves
      // the prompt, and the request goes on to the sign-in page. Nothing is granted here.
      if (ctx.query.signin === '1') {
        await deps
          .provider()
          .interactionFinished(ctx.req, ctx.res, { create: { shown: true } }, { mergeWithLastSubmission: true })
        ctx.respond = false
        return
      }
      ctx.status = 303
      ctx.redirect(withUiLocales(`/register?interaction=${uid}`))
      return
    }
    if (prompt.name === 'login') {
      const reasons = prompt.reasons as string[]
      // Step-up: a live sign-in session (its own checks passed) whose only shortcoming is the
      // missing second factor. The password was verified when the session began, so only the
      // second factor is asked, as Keycloak's step-up does. Any other reason (prompt=login,
      // max_age, an ended session, ...) means a full sign-in.
      // After "Sign in as someone else" the login form is shown whatever the reasons were.
      const session = interaction.session as { accountId?: string; amr?: string[] } | undefined
      const switching = switchingOf(interaction) || reasons.includes(ACCOUNT_SWITCH)
      if (
        !switching &&
        reasons.length === 1 &&
        reasons[0] === 'mfa_required' &&
        session?.accountId &&
        session.amr?.length
      ) {
        const user = await deps.users.findById(session.accountId)
        if (user && !user.disabled)
          return next(
            ctx,
            interaction,
            user,
            session.amr.filter((a) => a !== 'mfa'),
          )
      }
      ctx.body = loginPage({
        uid,
        csrf: csrfFor(uid),
        registration: deps.registration,
        clientName: await clientName(params.client_id),
        email: typeof params.login_hint === 'string' ? params.login_hint : undefined,
        notice: switching
          ? undefined
          : reasons.includes('mfa_required')
            ? t('login.mfaRequired')
            : reasons.includes('portcullis_session')
              ? t('login.sessionEnded')
              : undefined,
        // A live session of another account: say whose, and that a sign-in here ends it.
        signedInAs: reasons.includes('portcullis_session') ? undefined : await sessionEmail(interaction),
        providers: await deps.federation?.buttons(),
      })
      return
    }
    if (prompt.name === 'consent') {
      if (await skipsConsent(interaction)) return grantConsent(ctx, interaction, interaction.session!.accountId, true)
      const d = prompt.details as {
        missingOIDCScope?: string[]
        missingOIDCClaims?: string[]
        missingResourceScopes?: Record<string, string[]>
      }
      // oidc-provider lists resource scopes among the OIDC ones too: they are shown once, with
      // their resource, and only those the user holds.
      const resourceScopes = new Set(Object.values(d.missingResourceScopes ?? {}).flat())
      // Each scope with its human description (issue 14 §7), in the request's language.
      const describe = deps.describeScopes ? await deps.describeScopes() : () => undefined
      const held = (await heldSplit(interaction.session?.accountId, d.missingResourceScopes ?? {})).granted
      ctx.body = consentPage({
        uid,
        csrf: csrfFor(uid),
        clientName: await clientName(params.client_id),
        scopes: (d.missingOIDCScope ?? [])
          .filter((s) => !resourceScopes.has(s))
          .map((scope) => ({ scope, description: describe(scope) })),
        claims: d.missingOIDCClaims ?? [],
        resources: held.map(
          ([r, list]) =>
            [r, list.map((scope) => ({ scope, description: describe(scope, r) }))] as [
              string,
              { scope: string; description?: string }[],
            ],
        ),
        signedInAs: await sessionEmail(interaction),
      })
      return
    }
    throw new AppError('unsupported_prompt', `unsupported interaction prompt ${prompt.name}`, { status: 400 })
  })

  router.post('/:uid/login', async (ctx) => {
    const interaction = await details(ctx)
    const form = await readForm(ctx)
    checkCsrf(interaction.uid, form.csrf)
    if (interaction.prompt.name !== 'login')
      throw new AppError('wrong_step', 'this sign-in step is already complete', { status: 400 })
    const email = (form.email ?? '').trim().slice(0, 320)
    const password = (form.password ?? '').slice(0, 1024)
    const m = meta(ctx)
    const fail = async (status: number, error: string) => {
      noStore(ctx)
      ctx.status = status
      ctx.body = loginPage({
        uid: interaction.uid,
        csrf: csrfFor(interaction.uid),
        registration: deps.registration,
        clientName: await clientName(interaction.params.client_id),
        email,
        error,
        providers: await deps.federation?.buttons(),
      })
    }
    if (!email || !password) {
      await deps.audit.record({
        action: 'login',
        outcome: 'failure',
        target: email.toLowerCase() || null,
        details: { reason: 'missing_credentials', method: 'pwd', client_id: interaction.params.client_id },
        ...m,
      })
      return fail(400, t('login.missing'))
    }
    // One attempt is reserved before the password is checked (atomic, so parallel guesses
    // cannot exceed the limit); locked accounts are refused without evaluating anything.
    const verdict = await login.lockout.attempt(email, m.ip, m)
    if (!verdict.allowed) {
      await deps.audit.record({
        action: 'login',
        outcome: 'failure',
        target: email.toLowerCase(),
        details: { reason: 'locked', scope: verdict.scope, method: 'pwd', client_id: interaction.params.client_id },
        ...m,
      })
      ctx.set('Retry-After', String(verdict.retryAfter))
      return fail(429, lockedMessage(verdict.retryAfter))
    }
    const result = await deps.users.login(email, password)
    if (!result.ok) {
      await deps.audit.record({
        action: 'login',
        outcome: 'failure',
        actor: result.user?.id ?? null,
        target: email.toLowerCase(),
        details: { reason: result.reason, method: 'pwd', client_id: interaction.params.client_id },
        ...m,
      })
      await sleep(login.lockout.delayAfter(verdict.failures))
      const left = await login.lockout.remaining(email)
      // One message for every failure: never tell whether the account exists.
      return fail(401, left === 0 ? lockedMessage(login.lockout.options.lockoutSeconds) : t('login.wrongCredentials'))
    }
    await login.lockout.succeeded(email, m.ip)
    await next(ctx, interaction, result.user, ['pwd'])
  })

  // Verify-your-email-first (issue 14 §4): resend the link, or continue once it was followed.
  router.post('/:uid/verify/resend', async (ctx) => {
    const interaction = await details(ctx)
    checkCsrf(interaction.uid, (await readForm(ctx)).csrf)
    const { pending, user } = await pendingUser(interaction, 'verify_email')
    const r = deps.verification ? await deps.verification.send(user, meta(ctx)) : { retryAfter: 1 }
    noStore(ctx)
    if (r.retryAfter) ctx.status = 429
    ctx.body = verifyFirstPage({
      uid: interaction.uid,
      csrf: csrfFor(interaction.uid),
      email: pending.email,
      notice: r.retryAfter ? t('register.resendLimited') : t('register.resent'),
    })
  })
  router.post('/:uid/verify/continue', async (ctx) => {
    const interaction = await details(ctx)
    checkCsrf(interaction.uid, (await readForm(ctx)).csrf)
    const { pending, user } = await pendingUser(interaction, 'verify_email')
    if (!user.emailVerified) {
      noStore(ctx)
      ctx.status = 400
      ctx.body = verifyFirstPage({
        uid: interaction.uid,
        csrf: csrfFor(interaction.uid),
        email: pending.email,
        notice: t('register.notVerifiedYet'),
      })
      return
    }
    await next(ctx, interaction, user, pending.amr)
  })

  router.post('/:uid/password', async (ctx) => {
    const interaction = await details(ctx)
    const form = await readForm(ctx)
    checkCsrf(interaction.uid, form.csrf)
    const { pending, user } = await pendingUser(interaction, 'password_change')
    const next_ = form.new_password ?? ''
    const errors = passwordProblems(next_, {
      minLength: deps.passwordMinLength,
      email: user.email,
      userInputs: user.name ? [user.name] : [],
    })
    if (next_ !== (form.confirm_password ?? '')) errors.push(t('password.mismatch'))
    if (!errors.length && user.passwordHash && (await deps.users.login(user.email, next_)).ok)
      errors.push(t('password.sameAsCurrent'))
    if (errors.length) {
      noStore(ctx)
      ctx.status = 400
      ctx.body = changePasswordPage({
        uid: interaction.uid,
        csrf: csrfFor(interaction.uid),
        errors,
        minLength: deps.passwordMinLength,
      })
      return
    }
    const updated = await deps.users.setPassword(
      user.id,
      next_,
      deps.audit.with(() => ({
        action: 'password.changed',
        outcome: 'success',
        actor: user.id,
        target: user.id,
        details: { reason: 'required at sign-in' },
        ...meta(ctx),
      })),
    )
    await next(ctx, interaction, updated, pending.amr)
  })

  // Second factor: a TOTP code or a recovery code. Wrong codes count towards the lockout.
  router.post('/:uid/mfa', async (ctx) => {
    const interaction = await details(ctx)
    const form = await readForm(ctx)
    checkCsrf(interaction.uid, form.csrf)
    const { pending, user } = await pendingUser(interaction, 'mfa')
    const method = form.method === 'recovery' ? 'recovery' : 'totp'
    const code = (form.code ?? '').slice(0, 64)
    const m = meta(ctx)
    const verdict = await login.lockout.attempt(user.email, m.ip, m)
    if (!verdict.allowed) {
      await deps.audit.record({
        action: 'mfa.verify',
        outcome: 'failure',
        actor: user.id,
        target: user.email,
        details: { reason: 'locked', method },
        ...m,
      })
      ctx.status = 429
      ctx.set('Retry-After', String(verdict.retryAfter))
      return renderMfa(ctx, interaction, user.id, {
        [method === 'totp' ? 'error' : 'recoveryError']: lockedMessage(verdict.retryAfter),
      })
    }
    let ok = false
    let reason = 'invalid'
    if (method === 'totp') {
      const r = await login.mfa.verifyTotp(user.id, code)
      ok = r.ok
      if (!r.ok) reason = r.reason
    } else {
      ok = await login.mfa.useRecoveryCode(user.id, code)
    }
    if (!ok) {
      await deps.audit.record({
        action: 'mfa.verify',
        outcome: 'failure',
        actor: user.id,
        target: user.email,
        details: { method, reason },
        ...m,
      })
      await sleep(login.lockout.delayAfter(verdict.failures))
      ctx.status = 401
      const message =
        method === 'totp' ? t(reason === 'replay' ? 'mfa.codeReplayed' : 'mfa.codeWrong') : t('mfa.recoveryWrong')
      return renderMfa(ctx, interaction, user.id, method === 'totp' ? { error: message } : { recoveryError: message })
    }
    await login.lockout.succeeded(user.email, m.ip)
    await deps.audit.record({
      action: 'mfa.verify',
      outcome: 'success',
      actor: user.id,
      target: user.email,
      details: {
        method,
        ...(method === 'recovery' ? { remaining_codes: await login.mfa.remainingRecoveryCodes(user.id) } : {}),
      },
      ...m,
    })
    // A recovery code is a one-time password (NIST SP 800-63B "look-up secret"): amr `otp`.
    await finish(ctx, interaction, user, [...pending.amr, 'otp', 'mfa'])
  })

  const jsonCsrf = (ctx: Context, uid: string) => checkCsrf(uid, ctx.get('x-csrf-token') || undefined)
  const parseCredential = async (ctx: Context) => {
    const parsed = credentialBody.safeParse(await readJson(ctx, 64 * 1024))
    if (!parsed.success)
      throw new AppError('invalid_request', 'expected {"credential": PublicKeyCredential JSON}', { status: 400 })
    return parsed.data.credential as never
  }
  const parseRegistration = async (ctx: Context) => {
    const parsed = credentialBody.safeParse(await readJson(ctx, 64 * 1024))
    if (!parsed.success)
      throw new AppError('invalid_request', 'expected {"name", "credential": PublicKeyCredential JSON}', {
        status: 400,
      })
    return { name: parsed.data.name || 'Passkey', credential: parsed.data.credential as never }
  }

  /** The first half of a passkey ceremony at `step`: options, their challenge kept in the pending sign-in. */
  const passkeyOptions =
    (step: Step, make: (user: UserRecord) => Promise<{ challenge: string }>) => async (ctx: Context) => {
      const interaction = await details(ctx)
      jsonCsrf(ctx, interaction.uid)
      const { pending, user } = await pendingUser(interaction, step)
      const options = await make(user)
      interaction.result = { pending: { ...pending, challenge: options.challenge } }
      await interaction.persist()
      ctx.set('Cache-Control', 'no-store')
      ctx.body = options
    }
  /** The pending challenge, taken: single-use whatever the outcome of the ceremony. */
  async function takeChallenge(interaction: Interaction, pending: Pending) {
    if (!pending.challenge) throw new AppError('wrong_step', 'ask for passkey options first', { status: 400 })
    interaction.result = { pending: { ...pending, challenge: undefined } }
    await interaction.persist()
    return pending.challenge
  }

  // Passkey as the second factor.
  router.post(
    '/:uid/mfa/passkey/options',
    passkeyOptions('mfa', (user) => login.mfa.authenticationOptions(user.id)),
  )
  router.post('/:uid/mfa/passkey', async (ctx) => {
    const interaction = await details(ctx)
    jsonCsrf(ctx, interaction.uid)
    const { pending, user } = await pendingUser(interaction, 'mfa')
    const credential = await parseCredential(ctx)
    const challenge = await takeChallenge(interaction, pending)
    const r = await login.mfa.verifyAuthentication(credential, challenge, {
      userId: user.id,
      requireUserVerification: false,
    })
    if (!r.ok) {
      await deps.audit.record({
        action: 'mfa.verify',
        outcome: 'failure',
        actor: user.id,
        target: user.email,
        details: { method: 'webauthn', reason: r.reason },
        ...meta(ctx),
      })
      throw new AppError('passkey_rejected', t('mfa.passkeyRejected'), { status: 401 })
    }
    await deps.audit.record({
      action: 'mfa.verify',
      outcome: 'success',
      actor: user.id,
      target: user.email,
      details: { method: 'webauthn' },
      ...meta(ctx),
    })
    await finish(ctx, interaction, user, [...pending.amr, r.amr, 'mfa'], true)
  })

  // Passkey as the first (and only) factor: a discoverable credential with user verification
  // is something you have plus something you know/are, so the sign-in counts as MFA.
  router.post('/:uid/passkey/options', async (ctx) => {
    const interaction = await details(ctx)
    jsonCsrf(ctx, interaction.uid)
    if (interaction.prompt.name !== 'login')
      throw new AppError('wrong_step', 'this sign-in step is already complete', { status: 400 })
    const options = await login.mfa.authenticationOptions()
    interaction.result = { passkeyChallenge: options.challenge }
    await interaction.persist()
    ctx.set('Cache-Control', 'no-store')
    ctx.body = options
  })
  router.post('/:uid/passkey', async (ctx) => {
    const interaction = await details(ctx)
    jsonCsrf(ctx, interaction.uid)
    if (interaction.prompt.name !== 'login')
      throw new AppError('wrong_step', 'this sign-in step is already complete', { status: 400 })
    const credential = await parseCredential(ctx)
    const challenge = (interaction.result as { passkeyChallenge?: string } | undefined)?.passkeyChallenge
    if (!challenge) throw new AppError('wrong_step', 'ask for passkey options first', { status: 400 })
    interaction.result = {}
    await interaction.persist()
    const r = await login.mfa.verifyAuthentication(credential, challenge, { requireUserVerification: true })
    const user = r.ok ? await deps.users.findById(r.userId) : null
    if (!r.ok || !user || user.disabled) {
      await deps.audit.record({
        action: 'login',
        outcome: 'failure',
        actor: user?.id ?? null,
        target: user?.email ?? null,
        details: { reason: r.ok ? 'disabled' : r.reason, method: 'webauthn', client_id: interaction.params.client_id },
        ...meta(ctx),
      })
      throw new AppError('passkey_rejected', t('mfa.passkeyRejectedFirst'), { status: 401 })
    }
    await next(ctx, interaction, user, [r.amr, 'mfa'], true)
  })

  // Forced enrolment: confirm the new TOTP secret with a code, then show recovery codes.
  router.post('/:uid/enrol', async (ctx) => {
    const interaction = await details(ctx)
    const form = await readForm(ctx)
    checkCsrf(interaction.uid, form.csrf)
    const { pending, user } = await pendingUser(interaction, 'enrol')
    if (!pending.totp) throw new AppError('wrong_step', 'reload the page to get a new key', { status: 400 })
    const secret = login.mfa.openPending(pending.totp, interaction.uid)
    // the factor and its record commit together (db/audited.ts); the recovery codes follow
    const factor = await login.mfa.confirmTotp(
      user.id,
      secret,
      form.code ?? '',
      'Authenticator app',
      deps.audit.with((f) => ({
        action: 'mfa.enrolled',
        outcome: 'success',
        actor: user.id,
        target: user.id,
        details: { type: 'totp', factor: f.id, forced: true },
        ...meta(ctx),
      })),
    )
    if (!factor) {
      ctx.status = 400
      return renderEnrol(ctx, interaction, pending, t('enrol.codeWrong'))
    }
    const codes = await login.mfa.regenerateRecoveryCodes(user.id)
    interaction.result = {
      pending: {
        accountId: user.id,
        email: user.email,
        amr: [...pending.amr, 'otp', 'mfa'],
        step: 'codes',
      } satisfies Pending,
    }
    await interaction.persist()
    noStore(ctx)
    ctx.body = codesPage({ uid: interaction.uid, csrf: csrfFor(interaction.uid), codes })
  })

  // Forced enrolment with a passkey instead: register one, then the recovery codes page.
  router.post(
    '/:uid/enrol/passkey/options',
    passkeyOptions('enrol', (user) => login.mfa.registrationOptions(user)),
  )
  router.post('/:uid/enrol/passkey', async (ctx) => {
    const interaction = await details(ctx)
    jsonCsrf(ctx, interaction.uid)
    const { pending, user } = await pendingUser(interaction, 'enrol')
    const { name, credential } = await parseRegistration(ctx)
    const challenge = await takeChallenge(interaction, pending)
    let factor
    try {
      factor = await login.mfa.verifyRegistration(
        user.id,
        credential,
        challenge,
        name,
        deps.audit.with((f) => ({
          action: 'mfa.enrolled',
          outcome: 'success',
          actor: user.id,
          target: user.id,
          details: { type: 'webauthn', factor: f.id, forced: true },
          ...meta(ctx),
        })),
      )
    } catch (err) {
      await deps.audit.record({
        action: 'mfa.enrolled',
        outcome: 'failure',
        actor: user.id,
        target: user.id,
        details: { type: 'webauthn', forced: true, reason: (err as Error).message.slice(0, 200) },
        ...meta(ctx),
      })
      throw new AppError('passkey_rejected', t('mfa.passkeyNotRegistered'), { status: 400 })
    }
    const codes = await login.mfa.regenerateRecoveryCodes(user.id)
    // Registering proved possession of the new authenticator: it counts as the second factor.
    interaction.result = {
      pending: {
        accountId: user.id,
        email: user.email,
        amr: [...pending.amr, passkeyAmr(factor.deviceType), 'mfa'],
        step: 'codes',
        codes: login.mfa.sealPending(JSON.stringify(codes), interaction.uid),
      } satisfies Pending,
    }
    await interaction.persist()
    ctx.set('Cache-Control', 'no-store')
    ctx.body = { redirect: `/interaction/${interaction.uid}` }
  })

  router.post('/:uid/continue', async (ctx) => {
    const interaction = await details(ctx)
    const form = await readForm(ctx)
    checkCsrf(interaction.uid, form.csrf)
    const { pending, user } = await pendingUser(interaction, 'codes')
    await finish(ctx, interaction, user, pending.amr)
  })

  router.post('/:uid/confirm', async (ctx) => {
    const interaction = await details(ctx)
    const form = await readForm(ctx)
    checkCsrf(interaction.uid, form.csrf)
    const { prompt, session } = interaction
    if (prompt.name !== 'consent' || !session?.accountId)
      throw new AppError('wrong_step', 'nothing to confirm in this step', { status: 400 })
    await grantConsent(ctx, interaction, session.accountId, false)
  })

  /**
   * "Sign in as someone else" (consent page, second-factor page). Nothing ends here: on a login
   * step the half-done sign-in is dropped and the login form comes back; on the consent page
   * the interaction finishes with `switchAccount`, so the request asks for a login again
   * (login-policy.ts). When another account then signs in, oidc-provider ends the current
   * session first — exactly as for prompt=login — and cancelling keeps it.
   */
  router.post('/:uid/switch', async (ctx) => {
    const interaction = await details(ctx)
    const form = await readForm(ctx)
    checkCsrf(interaction.uid, form.csrf)
    if (interaction.prompt.name === 'login') {
      interaction.result = { switchAccount: true }
      await interaction.persist()
      ctx.status = 303
      ctx.redirect(`/interaction/${interaction.uid}`)
      return
    }
    if (interaction.prompt.name !== 'consent' || !interaction.session?.accountId)
      throw new AppError('wrong_step', 'nobody is signed in in this step', { status: 400 })
    await deps
      .provider()
      .interactionFinished(ctx.req, ctx.res, { switchAccount: true }, { mergeWithLastSubmission: false })
    ctx.respond = false
  })

  router.post('/:uid/abort', async (ctx) => {
    const interaction = await details(ctx)
    const form = await readForm(ctx)
    checkCsrf(interaction.uid, form.csrf)
    await deps.provider().interactionFinished(
      ctx.req,
      ctx.res,
      {
        error: 'access_denied',
        error_description: 'the user cancelled the request',
      },
      { mergeWithLastSubmission: false },
    )
    ctx.respond = false
  })

  // ---- federation (issue 14 §6): upstream sign-in continues here like after a first factor ----
  deps.federation?.mount(router, {
    details,
    csrfFor,
    checkCsrf,
    meta,
    next: (ctx, interaction, user, amr) => next(ctx, interaction as Interaction, user, amr),
  })
  // ---- end federation ----

  return router
}
