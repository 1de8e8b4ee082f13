import type Router from '@koa/router'
import type { Context } from 'koa'
import { AppError } from '../../errors.ts'
import { readFormParams } from '../body.ts'
import type { ApiKeyService } from '../../apikeys/service.ts'
import { keyStatus } from '../../apikeys/service.ts'
import type { Actor } from '../../apikeys/issue.ts'
import { LEVELS, LEVEL_RULES, type Level } from '../../apikeys/levels.ts'
import { KEY_ID_PATTERN } from '../../apikeys/format.ts'
import type { SessionRecord } from '../../identity/queries/sessions.ts'
import type { StrongLogin } from '../../identity/strong-login.ts'
import type { AuditLog } from '../../audit/log.ts'
import { isManagementScope } from '../../oidc/holdings.ts'
import { API_SCOPE_NAMES } from '../../oidc/api-resource.ts'
import { t } from '../../views/i18n.ts'

const isApiScope = (s: string) => (API_SCOPE_NAMES as readonly string[]).includes(s)
import { accountKeysPage, keySecretPage, revokeKeyPage, type KeysView } from '../../views/account-keys.ts'

/** What the account router lends these routes: its session, CSRF and page helpers. */
export interface AccountKeyDeps {
  apikeys: ApiKeyService
  /** second factors and their lockout, for the step-up before a management-scope key */
  login: Pick<StrongLogin, 'mfa' | 'lockout'>
  audit: AuditLog
  require: (ctx: Context) => Promise<{ s: SessionRecord; user: { id: string; email: string } } | undefined>
  checkCsrf: (s: SessionRecord, token: string | undefined) => void
  csrfFor: (sessionId: string) => string
  html: (ctx: Context, body: string, status?: number) => void
  meta: (ctx: Context) => { ip: string; userAgent: string | null; requestId: string }
}

// Catalogue keys (views/i18n.ts): what each level asks of a key.
const LEVEL_TEXT: Record<Level, string> = {
  LOW: 'keys.levelRule.optional',
  MEDIUM: 'keys.levelRule.optional',
  HIGH: 'keys.levelRule.high',
  CRITICAL: 'keys.levelRule.critical',
}
const DAY = 86_400_000
/**
 * How long a sign-in with a second factor counts as "fresh" for creating a key with a
 * management scope without typing a code (e.g. a passkey sign-in just before).
 */
const FRESH_MFA_MS = 5 * 60_000
const SECOND_FACTOR_AMR = new Set(['otp', 'hwk', 'swk', 'mfa'])
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

type FormErrors = NonNullable<KeysView['errors']>

/**
 * The key service's refusals as messages next to the form fields: its level problems (one per
 * broken rule, in `details`), CIDR syntax and scopes wider than the user's. Only the wording is
 * decided here; the rules stay in apikeys/.
 */
function serviceErrors(err: AppError): FormErrors {
  if (err.code === 'scope_not_allowed') return { scopes: t('keys.error.scopeNotHeld') }
  if (err.message.startsWith('allowed_ips: '))
    return { allowed_ips: t('keys.error.notAddress', { value: err.message.slice('allowed_ips: '.length) }) }
  const problems =
    Array.isArray(err.details) && err.details.every((d) => typeof d === 'string')
      ? (err.details as string[])
      : [err.message]
  const out: FormErrors = {}
  const add = (field: keyof FormErrors, message: string) => {
    out[field] = out[field] ? `${out[field]} ${message}` : message
  }
  for (const p of problems) {
    let m: RegExpExecArray | null
    if ((m = /^a (\w+) key needs an IP allowlist/.exec(p)))
      add('allowed_ips', t('keys.error.needsIps', { level: m[1] }))
    else if ((m = /^a (\w+) key needs signed requests/.exec(p)))
      add('signing', t('keys.error.needsSigning', { level: m[1] }))
    else if ((m = /^a (\w+) key lives at most (\d+) days/.exec(p)))
      add('days', t('keys.error.maxDays', { level: m[1], count: Number(m[2]) }))
    else if (/^expiry/.test(p)) add('days', t('keys.error.expiryPast'))
    else add('form', p.charAt(0).toUpperCase() + p.slice(1) + (p.endsWith('.') ? '' : '.'))
  }
  return out
}

/**
 * Personal API keys on the account pages (`/account/keys`): list, create, rotate, revoke.
 * Everything goes through the key service, so the rules are the key API's (levels, scopes no
 * wider than the user's, audit events); these routes only add the pages. A new secret is
 * rendered in the POST response itself (no-store), never put in a URL or a redirect.
 */
export function accountKeyRoutes(router: Router, deps: AccountKeyDeps) {
  const owner = (userId: string) => ({ type: 'user' as const, id: userId })
  const actor = (ctx: Context, userId: string): Actor => {
    const m = deps.meta(ctx)
    return {
      label: `user:${userId}`,
      isAdmin: false,
      ip: m.ip,
      userAgent: m.userAgent ?? undefined,
      requestId: m.requestId,
    }
  }

  async function view(s: SessionRecord, userId: string, extra: Partial<KeysView> = {}): Promise<KeysView> {
    const keys = (await deps.apikeys.list(owner(userId))).sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())
    return {
      csrf: deps.csrfFor(s.id),
      keys: keys.map((k) => ({
        id: k.id,
        name: k.name,
        scopes: k.scopes,
        level: k.level,
        status: keyStatus(k),
        createdAt: k.createdAt,
        expiresAt: k.expiresAt,
        lastUsedAt: k.lastUsedAt,
        lastUsedIp: k.lastUsedIp,
        allowedIps: k.allowedIps,
        signing: k.signingAlg,
      })),
      grantable: (await deps.apikeys.owners.describedScopes(owner(userId))).map((g) => ({
        ...g,
        // portcullis's own API scopes are described in the catalogues, in the page's language
        ...(isApiScope(g.name) ? { description: t(`scope.${g.name}`) } : {}),
        management: isManagementScope(g.name),
      })),
      stepUp: await deps.login.mfa.hasFactor(userId),
      levels: LEVELS.map((l) => ({ name: l, maxDays: LEVEL_RULES[l].maxLifetimeDays, rule: t(LEVEL_TEXT[l]) })),
      ...extra,
    }
  }

  /** The signed-in user's own key, or a 404 (another user's key is as absent as an unknown one). */
  async function ownKey(userId: string, id: string | undefined) {
    const k = id && KEY_ID_PATTERN.test(id) ? await deps.apikeys.get(id) : null
    if (!k || k.ownerType !== 'user' || k.ownerId !== userId)
      throw new AppError('not_found', 'no such API key on your account', { status: 404 })
    return k
  }

  async function csrfForm(ctx: Context, s: SessionRecord) {
    const f = await readFormParams(ctx)
    deps.checkCsrf(s, f.get('csrf') ?? undefined)
    return f
  }

  /**
   * Issue 10 §1: a key with a management scope needs a fresh second factor when the user has
   * one — a sign-in with a second factor in the last FRESH_MFA_MS, or a TOTP or recovery code
   * typed on the form (checked by the MFA service; wrong codes count towards the lockout like
   * at sign-in). Returns the form message when it is missing or wrong.
   */
  async function stepUpProblem(
    ctx: Context,
    s: SessionRecord,
    user: { id: string; email: string },
    scopes: string[],
    code: string,
  ): Promise<string | undefined> {
    const wanted = scopes.filter((x) => isManagementScope(x))
    if (!wanted.length || !(await deps.login.mfa.hasFactor(user.id))) return undefined
    if (Date.now() - s.createdAt.getTime() < FRESH_MFA_MS && s.amr.some((a) => SECOND_FACTOR_AMR.has(a)))
      return undefined
    const ask = t('keys.error.stepUp', { scopes: wanted.join(', '), count: wanted.length })
    if (!code) return ask
    const m = deps.meta(ctx)
    const verdict = await deps.login.lockout.attempt(user.email, m.ip, m)
    if (!verdict.allowed) return t('keys.error.tooManyCodes', { count: verdict.retryAfter })
    const method = /^\d{6,8}$/.test(code) ? 'totp' : 'recovery'
    const ok =
      method === 'totp'
        ? (await deps.login.mfa.verifyTotp(user.id, code)).ok
        : await deps.login.mfa.useRecoveryCode(user.id, code)
    await deps.audit.record({
      action: 'mfa.verify',
      outcome: ok ? 'success' : 'failure',
      actor: user.id,
      target: user.email,
      details: { method, purpose: 'apikey.management_scope' },
      ...m,
    })
    if (ok) {
      await deps.login.lockout.succeeded(user.email, m.ip)
      return undefined
    }
    await sleep(deps.login.lockout.delayAfter(verdict.failures))
    return `${t('keys.error.codeWrong')} ${ask}`
  }

  router.get('/keys', async (ctx) => {
    const got = await deps.require(ctx)
    if (!got) return
    const notices: Record<string, string> = { revoked: t('keys.notice.revoked') }
    const notice = typeof ctx.query.done === 'string' ? notices[ctx.query.done] : undefined
    deps.html(ctx, accountKeysPage(await view(got.s, got.user.id, notice ? { notice } : {})))
  })

  router.post('/keys', async (ctx) => {
    const got = await deps.require(ctx)
    if (!got) return
    const f = await csrfForm(ctx, got.s)
    const form = {
      name: (f.get('name') ?? '').trim(),
      scopes: f.getAll('scopes'),
      level: f.get('level') ?? 'LOW',
      days: (f.get('days') ?? '').trim(),
      allowed_ips: f.get('allowed_ips') ?? '',
      rate_limit: (f.get('rate_limit') ?? '').trim(),
      signing: f.get('signing') === 'hmac-sha256',
    }
    const errors: NonNullable<KeysView['errors']> = {}
    if (!form.name) errors.name = t('keys.error.nameMissing')
    else if (form.name.length > 100) errors.name = t('form.atMost100')
    const level = (LEVELS as readonly string[]).includes(form.level) ? (form.level as Level) : undefined
    if (!level) errors.level = t('keys.error.level')
    const days = form.days ? Number(form.days) : undefined
    if (days !== undefined && !(Number.isInteger(days) && days >= 1 && days <= 3650)) errors.days = t('keys.error.days')
    const rateLimit = form.rate_limit ? Number(form.rate_limit) : null
    if (rateLimit !== null && !(Number.isInteger(rateLimit) && rateLimit >= 1 && rateLimit <= 1_000_000))
      errors.rate_limit = t('keys.error.rateLimit')
    const allowedIps = form.allowed_ips.split(/[\s,]+/).filter(Boolean)
    // The level's rules (lifetime, allowlist, signed requests), the CIDR syntax and the scopes
    // the user may grant are the key service's: its refusals come back below, tied to fields.

    const again = async (status: number) =>
      deps.html(ctx, accountKeysPage(await view(got.s, got.user.id, { form, errors })), status)
    if (Object.keys(errors).length) return again(400)
    const stepUp = await stepUpProblem(
      ctx,
      got.s,
      got.user,
      form.scopes,
      (f.get('second_factor') ?? '').replace(/\s/g, '').slice(0, 64),
    )
    if (stepUp) {
      errors.second_factor = stepUp
      return again(401)
    }
    try {
      const issued = await deps.apikeys.issue(
        {
          owner: owner(got.user.id),
          name: form.name,
          scopes: form.scopes,
          level: level!,
          ...(days ? { expiresAt: new Date(Date.now() + days * DAY) } : {}),
          allowedIps,
          rateLimit,
          ...(form.signing ? { signing: { alg: 'hmac-sha256' as const } } : {}),
        },
        actor(ctx, got.user.id),
      )
      const pending = keyStatus(issued.record) === 'pending_approval'
      deps.html(
        ctx,
        keySecretPage({
          title: t('keys.secret.newTitle'),
          key: issued.key,
          signingSecret: issued.signingSecret,
          name: form.name,
          ...(pending ? { note: t('keys.secret.pending') } : {}),
        }),
      )
    } catch (err) {
      // The service's own rules (scopes wider than the user's, CIDR syntax, ...) as form messages.
      if (!(err instanceof AppError) || err.status >= 500) throw err
      Object.assign(errors, serviceErrors(err))
      return again(err.status === 403 ? 403 : 400)
    }
  })

  router.post('/keys/:id/rotate', async (ctx) => {
    const got = await deps.require(ctx)
    if (!got) return
    await csrfForm(ctx, got.s)
    const k = await ownKey(got.user.id, ctx.params.id)
    const rotated = await deps.apikeys.rotate(k.id, actor(ctx, got.user.id))
    deps.html(
      ctx,
      keySecretPage({
        title: t('keys.secret.rotatedTitle'),
        key: rotated.key,
        signingSecret: rotated.signingSecret,
        name: k.name,
        note: `The old key keeps working until ${rotated.previous.expiresAt.toISOString().replace('T', ' ').slice(0, 16)} UTC, so you can switch your programs over.`,
      }),
    )
  })

  router.post('/keys/:id/revoke', async (ctx) => {
    const got = await deps.require(ctx)
    if (!got) return
    const f = await csrfForm(ctx, got.s)
    const k = await ownKey(got.user.id, ctx.params.id)
    if (f.get('confirm') !== 'yes')
      return deps.html(ctx, revokeKeyPage({ csrf: deps.csrfFor(got.s.id), id: k.id, name: k.name }))
    await deps.apikeys.revoke(k.id, actor(ctx, got.user.id))
    ctx.status = 303
    ctx.redirect('/account/keys?done=revoked')
  })
}
