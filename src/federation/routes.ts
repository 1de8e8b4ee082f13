import Router from '@koa/router'
import type { Context } from 'koa'
import { readForm } from '../http/body.ts'
import type { AuditLog } from '../audit/log.ts'
import type { UserService } from '../identity/users.ts'
import type { UserRecord } from '../identity/queries.ts'
import type { StrongLogin } from '../identity/strong-login.ts'
import { federationErrors, FederationRefused } from './errors.ts'
import { t } from '../views/i18n.ts'
import type { FederationService } from './service.ts'
import type { Transaction, UpstreamProfile } from './upstream.ts'
import { uidOfState } from './upstream.ts'
import { linkPage, refusedPage } from './pages.ts'

/** The part of an oidc-provider interaction these routes use (oidc/interactions/router.ts owns it). */
export interface FedInteraction {
  uid: string
  params: Record<string, unknown>
  prompt: { name: string }
  result?: unknown
  persist(): Promise<unknown>
}

/** What the sign-in router lends: the interaction, its CSRF token, and "continue the sign-in". */
export interface InteractionHooks {
  details(ctx: Context): Promise<FedInteraction>
  csrfFor(uid: string): string
  checkCsrf(uid: string, token: string | undefined): void
  meta(ctx: Context): { ip: string; userAgent: string | null; requestId: string }
  /** continues like after a first factor: a required second factor or password change, then done */
  next(ctx: Context, interaction: FedInteraction, user: UserRecord, amr: string[]): Promise<void>
}

export interface FederationRouteDeps {
  federation: FederationService
  users: UserService
  audit: AuditLog
  login: StrongLogin
}

/** Upstream state kept in the interaction (server-side, bound to the interaction cookie). */
interface FedState {
  tx?: Transaction
  link?: { profile: UpstreamProfile; userId: string }
}
const fedOf = (i: FedInteraction) => (i.result as { federation?: FedState } | undefined)?.federation
const ALIAS = /^[a-z0-9][a-z0-9_-]{0,63}$/

/**
 * Our amr for an upstream sign-in (RFC 8176): `fed`, then what the upstream reports. The
 * upstream's `mfa` counts only when the provider is trusted for it; otherwise a local second
 * factor is asked for as after a password.
 */
export function federatedAmr(profile: UpstreamProfile, trustMfa: boolean, extra: string[] = []): string[] {
  return [...new Set(['fed', ...profile.amr.filter((a) => trustMfa || a !== 'mfa'), ...extra])]
}

/** A refused sign-in: audited as a failed login, and a page that says why. */
async function refuseSignIn(
  deps: FederationRouteDeps,
  hooks: InteractionHooks,
  ctx: Context,
  interaction: FedInteraction,
  alias: string,
  e: FederationRefused,
  user?: UserRecord,
) {
  await deps.audit.record({
    action: 'login',
    outcome: 'failure',
    actor: user?.id ?? null,
    target: null,
    details: {
      method: 'fed',
      provider: alias,
      reason: e.reason,
      ...(e.detail ? { detail: e.detail } : {}),
      client_id: interaction.params.client_id,
    },
    ...hooks.meta(ctx),
  })
  ctx.status = e.reason === 'disabled' || e.reason === 'domain_not_allowed' ? 403 : 400
  ctx.set('Cache-Control', 'no-store')
  ctx.type = 'html'
  ctx.body = refusedPage({
    uid: interaction.uid,
    providerName: await deps.federation.displayName(alias),
    reason: e.reason,
  })
}

async function loginStepOf(hooks: InteractionHooks, ctx: Context) {
  const interaction = await hooks.details(ctx)
  if (interaction.prompt.name !== 'login') throw federationErrors.wrongStep()
  return interaction
}

/**
 * Sign-in through an upstream provider, inside the sign-in interaction
 * (`/interaction/:uid/federation/...`), mounted by the interaction router on itself.
 */
export function mountFederationInteractions(router: Router, hooks: InteractionHooks, deps: FederationRouteDeps) {
  const { federation, audit, login } = deps
  const trustMfa = (alias: string) => federation.trustsUpstreamMfa(alias)

  const refuse = (ctx: Context, interaction: FedInteraction, alias: string, e: FederationRefused, user?: UserRecord) =>
    refuseSignIn(deps, hooks, ctx, interaction, alias, e, user)
  const loginStep = (ctx: Context) => loginStepOf(hooks, ctx)
  const hasTotp = async (userId: string) => (await login.mfa.list(userId)).some((f) => f.type === 'totp')

  // Start: the button on the sign-in page.
  router.post('/:uid/federation/:alias', async (ctx) => {
    const interaction = await loginStep(ctx)
    const form = await readForm(ctx)
    hooks.checkCsrf(interaction.uid, form.csrf)
    const alias = ctx.params.alias!
    if (!ALIAS.test(alias)) throw federationErrors.unknownProvider()
    const hint =
      typeof interaction.params.login_hint === 'string' ? interaction.params.login_hint.slice(0, 320) : undefined
    const { url, tx } = await federation.begin(alias, interaction.uid, hint)
    interaction.result = { federation: { tx } satisfies FedState }
    await interaction.persist()
    await audit.record({
      action: 'federation.started',
      outcome: 'info',
      details: { provider: alias, client_id: interaction.params.client_id },
      ...hooks.meta(ctx),
    })
    ctx.set('Cache-Control', 'no-store')
    ctx.status = 303
    ctx.redirect(url.href)
  })

  // The upstream's answer (forwarded by the fixed callback below, with its query unchanged).
  router.get('/:uid/federation/:alias/callback', async (ctx) => {
    const interaction = await loginStep(ctx)
    const alias = ctx.params.alias!
    const tx = fedOf(interaction)?.tx
    // Single use: the transaction is dropped before anything else happens.
    interaction.result = {}
    await interaction.persist()
    let profile: UpstreamProfile
    try {
      if (!tx || tx.alias !== alias)
        throw new FederationRefused('state_mismatch', 'no sign-in with this provider was started here')
      profile = await federation.complete(tx, ctx.querystring)
    } catch (e) {
      if (e instanceof FederationRefused) return refuse(ctx, interaction, alias, e)
      throw e
    }
    let resolution
    try {
      resolution = await federation.resolve(profile)
    } catch (e) {
      if (e instanceof FederationRefused) return refuse(ctx, interaction, alias, e)
      throw e
    }
    const amr = federatedAmr(profile, await trustMfa(alias))
    if (resolution.kind !== 'link') {
      await audit.record({
        action: 'federation.authenticated',
        outcome: 'success',
        actor: resolution.user.id,
        target: resolution.user.email,
        details: { provider: alias, created: resolution.kind === 'created', upstream_amr: profile.amr },
        ...hooks.meta(ctx),
      })
      return hooks.next(ctx, interaction, resolution.user, amr)
    }
    interaction.result = { federation: { link: { profile, userId: resolution.user.id } } satisfies FedState }
    await interaction.persist()
    await audit.record({
      action: 'federation.link_required',
      outcome: 'info',
      actor: resolution.user.id,
      target: resolution.user.email,
      details: { provider: alias },
      ...hooks.meta(ctx),
    })
    ctx.set('Cache-Control', 'no-store')
    ctx.type = 'html'
    ctx.body = linkPage({
      uid: interaction.uid,
      csrf: hooks.csrfFor(interaction.uid),
      providerName: await federation.displayName(alias),
      email: resolution.user.email,
      hasTotp: await hasTotp(resolution.user.id),
    })
  })

  mountFederationLink(router, hooks, deps)
}

/** Proof of the existing account, then the link. Wrong answers count towards its lockout. */
function mountFederationLink(router: Router, hooks: InteractionHooks, deps: FederationRouteDeps) {
  const { federation, audit, login } = deps
  const trustMfa = (alias: string) => federation.trustsUpstreamMfa(alias)
  const refuse = (ctx: Context, interaction: FedInteraction, alias: string, e: FederationRefused, user?: UserRecord) =>
    refuseSignIn(deps, hooks, ctx, interaction, alias, e, user)
  const loginStep = (ctx: Context) => loginStepOf(hooks, ctx)
  const hasTotp = async (userId: string) => (await login.mfa.list(userId)).some((f) => f.type === 'totp')

  // Proof of the existing account, then the link. Wrong answers count towards its lockout.
  router.post('/:uid/federation-link', async (ctx) => {
    const interaction = await loginStep(ctx)
    const form = await readForm(ctx)
    hooks.checkCsrf(interaction.uid, form.csrf)
    const pending = fedOf(interaction)?.link
    if (!pending) throw federationErrors.wrongStep()
    const user = await deps.users.findById(pending.userId)
    const alias = pending.profile.provider
    if (!user || user.disabled)
      return refuse(ctx, interaction, alias, new FederationRefused('disabled'), user ?? undefined)
    const method = form.method === 'totp' ? 'totp' : 'password'
    const m = hooks.meta(ctx)
    const again = async (status: number, error: string) => {
      ctx.status = status
      ctx.set('Cache-Control', 'no-store')
      ctx.type = 'html'
      ctx.body = linkPage({
        uid: interaction.uid,
        csrf: hooks.csrfFor(interaction.uid),
        providerName: await federation.displayName(alias),
        email: user.email,
        hasTotp: await hasTotp(user.id),
        error,
      })
    }
    const verdict = await login.lockout.attempt(user.email, m.ip, m)
    if (!verdict.allowed) {
      await audit.record({
        action: 'federation.link_refused',
        outcome: 'failure',
        actor: user.id,
        target: user.email,
        details: { provider: alias, method, reason: 'locked' },
        ...m,
      })
      ctx.set('Retry-After', String(verdict.retryAfter))
      return again(429, t('federation.tooMany'))
    }
    let ok: boolean
    if (method === 'password') ok = (await deps.users.login(user.email, (form.password ?? '').slice(0, 1024))).ok
    else ok = (await login.mfa.verifyTotp(user.id, (form.code ?? '').slice(0, 16))).ok
    if (!ok) {
      await audit.record({
        action: 'federation.link_refused',
        outcome: 'failure',
        actor: user.id,
        target: user.email,
        details: { provider: alias, method, reason: 'bad_proof' },
        ...m,
      })
      await new Promise((r) => setTimeout(r, login.lockout.delayAfter(verdict.failures)))
      return again(401, method === 'password' ? t('federation.passwordWrong') : t('federation.codeWrong'))
    }
    await login.lockout.succeeded(user.email, m.ip)
    interaction.result = {}
    await interaction.persist()
    const linked = await federation.link(pending.profile, user, method)
    // The proof is a local factor besides the upstream one: `pwd`, or `otp` (then two factors: `mfa`).
    const amr = federatedAmr(pending.profile, await trustMfa(alias), method === 'password' ? ['pwd'] : ['otp', 'mfa'])
    return hooks.next(ctx, interaction, linked, amr)
  })
}

/**
 * The fixed redirect URI registered at the upstream (`/federation/:alias/callback`). The
 * interaction cookie is scoped to `/interaction/<uid>`, so the answer is forwarded there, with
 * the uid our `state` carries; the state itself is checked against the interaction there.
 */
export function federationCallbackRouter(deps: { audit: AuditLog; clientIp: (ctx: Context) => string }) {
  const router = new Router()
  router.get('/federation/:alias/callback', async (ctx) => {
    const alias = ctx.params.alias!
    const uid = uidOfState(typeof ctx.query.state === 'string' ? ctx.query.state : undefined)
    if (!ALIAS.test(alias) || !uid) {
      await deps.audit.record({
        action: 'login',
        outcome: 'failure',
        details: { method: 'fed', provider: ALIAS.test(alias) ? alias : null, reason: 'state_mismatch' },
        ip: deps.clientIp(ctx),
        requestId: ctx.state.requestId as string,
      })
      ctx.status = 400
      ctx.set('Cache-Control', 'no-store')
      ctx.type = 'html'
      ctx.body = refusedPage({ providerName: ALIAS.test(alias) ? alias : undefined, reason: 'state_mismatch' })
      return
    }
    ctx.set('Cache-Control', 'no-store')
    ctx.status = 303
    ctx.redirect(`/interaction/${uid}/federation/${alias}/callback?${ctx.querystring}`)
  })
  return router
}

/** What the sign-in router takes (oidc/interactions/router.ts): the buttons, and the routes to mount. */
export function federationInteractions(deps: FederationRouteDeps) {
  return {
    buttons: () => deps.federation.buttons(),
    mount: (router: Router, hooks: InteractionHooks) => mountFederationInteractions(router, hooks, deps),
  }
}
export type FederationInteractions = ReturnType<typeof federationInteractions>
