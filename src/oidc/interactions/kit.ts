import crypto from 'node:crypto'
import type Router from '@koa/router'
import type { Context, Middleware } from 'koa'
import type Provider from 'oidc-provider'
import { readForm } from '../../http/body.ts'
import { AppError } from '../../errors.ts'
import type { UserService } from '../../identity/users.ts'
import type { AuditLog } from '../../audit/log.ts'
import type { StrongLogin } from '../../identity/strong-login.ts'
import { splitByHoldings, type HoldingsOf } from '../holdings.ts'
import { mfaDemanded } from '../login-policy.ts'
import { safeEqual } from '../../crypto/constant-time.ts'
import { preferUiLocales, t } from '../../views/i18n.ts'
import type { ScopeDescriber } from '../scope-descriptions.ts'
import type { FederationInteractions } from '../../federation/routes.ts'
import type { EmailVerificationService } from '../../identity/email-verification.ts'
import type { SecurityNotices } from '../../identity/security-notices.ts'
import type { PendingStep } from './next-step.ts'

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

/** A sign-in past its first factor, waiting at `step` (next-step.ts says which). */
export interface Pending {
  accountId: string
  email: string
  amr: string[]
  step: PendingStep
  /** the TOTP secret being enrolled, sealed to this interaction */
  totp?: string
  /** the WebAuthn challenge of the passkey ceremony in progress */
  challenge?: string
  /** recovery codes to show once on the next page (after a passkey enrolment), sealed */
  codes?: string
}
export const pendingOf = (interaction: { result?: unknown }): Pending | undefined =>
  (interaction.result as { pending?: Pending } | undefined)?.pending
/** The user chose "Sign in as someone else" on a page of this (login) interaction. */
export const switchingOf = (interaction: { result?: unknown }) =>
  (interaction.result as { switchAccount?: unknown } | undefined)?.switchAccount === true

/** A wrong password or code costs time: the lockout's growing delay (identity/lockout.ts). */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export type Interaction = Awaited<ReturnType<Provider['interactionDetails']>>

/**
 * The page toolkit every step uses: the interaction (in the language the client asked for), its
 * CSRF token, no-store pages, the request's metadata for audit records, and the pending sign-in.
 */
export function pageKit(deps: InteractionDeps) {
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
  const details = async (ctx: Context): Promise<Interaction> => {
    const interaction = await deps.provider().interactionDetails(ctx.req, ctx.res)
    preferUiLocales(interaction.params.ui_locales)
    return interaction
  }
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
    if (await deps.login.requireMfaForAll()) return t('mfa.requiredForAll')
    const client = await clientOf(interaction.params.client_id)
    if (mfaDemanded(interaction.params.acr_values, client?.metadata()))
      return t('mfa.requiredByClient', { client: client?.clientName ?? String(interaction.params.client_id) })
    return undefined
  }

  /** The pending sign-in at `step` and its (still enabled) account; anything else is refused. */
  async function pendingUser(interaction: Interaction, step: PendingStep) {
    const pending = pendingOf(interaction)
    if (interaction.prompt.name !== 'login' || pending?.step !== step)
      throw new AppError('wrong_step', 'this sign-in step is not active; start again', { status: 400 })
    const user = await deps.users.findById(pending.accountId)
    if (!user || user.disabled) throw new AppError('wrong_step', 'the account is not available', { status: 400 })
    return { pending, user }
  }

  /** The email of the account whose live session this interaction runs in, if any. */
  async function sessionEmail(interaction: Interaction) {
    const accountId = (interaction.session as { accountId?: string } | undefined)?.accountId
    return accountId ? (await deps.users.findById(accountId))?.email : undefined
  }

  /** The requested resource scopes split by what the signed-in user's roles hold now. */
  async function heldSplit(accountId: string | undefined, requested: Record<string, string[]>) {
    if (!deps.holdings) return { granted: Object.entries(requested), refused: [] as [string, string[]][] }
    const user = accountId ? await deps.users.findById(accountId) : null
    return splitByHoldings(requested, await deps.holdings(user?.roles ?? []))
  }

  return {
    deps,
    login: deps.login,
    csrfFor,
    checkCsrf,
    noStore,
    details,
    clientOf,
    clientName,
    meta,
    demanded,
    pendingUser,
    sessionEmail,
    heldSplit,
  }
}
export type PageKit = ReturnType<typeof pageKit>

/**
 * One route of a step. `input` says what the toolkit does before the step runs, the same for
 * every route: `page` loads the interaction; `form` also reads the form and checks its CSRF
 * token; `json` checks the token in the X-CSRF-Token header (the passkey ceremony's fetches).
 */
export interface StepRoute {
  method: 'get' | 'post'
  path: string
  input: 'page' | 'form' | 'json'
  handle(ctx: Context, interaction: Interaction, form: Record<string, string>): Promise<unknown>
}

/** Mounts the steps' routes with the toolkit applied in one place. */
export function mountSteps(router: Router, kit: PageKit, routes: StepRoute[]) {
  for (const route of routes) {
    router[route.method](route.path, async (ctx) => {
      const interaction = await kit.details(ctx)
      let form: Record<string, string> = {}
      if (route.input === 'form') {
        form = await readForm(ctx)
        kit.checkCsrf(interaction.uid, form.csrf)
      } else if (route.input === 'json') kit.checkCsrf(interaction.uid, ctx.get('x-csrf-token') || undefined)
      await route.handle(ctx, interaction, form)
    })
  }
}
