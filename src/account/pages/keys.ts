import type { Context } from 'koa'
import { AppError } from '../../errors.ts'
import type { ApiKeyService } from '../../apikeys/service.ts'
import { keyStatus } from '../../apikeys/service.ts'
import type { Actor } from '../../apikeys/issue.ts'
import { LEVELS, LEVEL_RULES, type Level } from '../../apikeys/levels.ts'
import { KEY_ID_PATTERN } from '../../apikeys/format.ts'
import type { MfaService } from '../../identity/mfa.ts'
import { isManagementScope } from '../../oidc/holdings.ts'
import { API_SCOPE_NAMES } from '../../oidc/api-resource.ts'
import { t } from '../../views/i18n.ts'
import { accountKeysPage, keySecretPage, revokeKeyPage, type KeysView } from '../../views/account-keys.ts'
import { accountErrors } from '../errors.ts'
import type { AccountService } from '../service.ts'
import { seeOther, sendPage, type PageStep, type SignedIn } from '../page-kit.ts'
import { readKeyForm, serviceErrors } from './key-form.ts'

const isApiScope = (s: string) => (API_SCOPE_NAMES as readonly string[]).includes(s)
// Catalogue keys (views/i18n.ts): what each level asks of a key.
const LEVEL_TEXT: Record<Level, string> = {
  LOW: 'keys.levelRule.optional',
  MEDIUM: 'keys.levelRule.optional',
  HIGH: 'keys.levelRule.high',
  CRITICAL: 'keys.levelRule.critical',
}
const DAY = 86_400_000
const owner = (userId: string) => ({ type: 'user' as const, id: userId })
const actor = (req: SignedIn): Actor => ({
  label: `user:${req.user.id}`,
  isAdmin: false,
  ip: req.meta.ip,
  userAgent: req.meta.userAgent ?? undefined,
  requestId: req.meta.requestId,
})

export interface KeyPageDeps {
  apikeys: ApiKeyService
  account: AccountService
  mfa: Pick<MfaService, 'hasFactor'>
}

/**
 * Personal API keys on the account pages (`/account/keys`): list, create, rotate, revoke.
 * Everything goes through the key service, so the rules are the key API's (levels, scopes no
 * wider than the user's, audit events); these steps only add the pages. A new secret is
 * rendered in the POST response itself (no-store), never put in a URL or a redirect.
 */
export function keySteps(deps: KeyPageDeps): PageStep[] {
  const view = keyView(deps)

  /** The signed-in user's own key, or a 404 (another user's key is as absent as an unknown one). */
  async function ownKey(req: SignedIn, id: string | undefined) {
    const k = id && KEY_ID_PATTERN.test(id) ? await deps.apikeys.get(id) : null
    if (!k || k.ownerType !== 'user' || k.ownerId !== req.user.id) throw accountErrors.noKey()
    return k
  }

  return [
    {
      method: 'get',
      path: '/keys',
      handle: async (ctx, req) => {
        const notice = ctx.query.done === 'revoked' ? t('keys.notice.revoked') : undefined
        sendPage(ctx, accountKeysPage(await view(req, notice ? { notice } : {})))
      },
    },
    { method: 'post', path: '/keys', handle: createKey(deps, view) },
    {
      method: 'post',
      path: '/keys/:id/rotate',
      handle: async (ctx, req) => {
        const k = await ownKey(req, ctx.params.id)
        const rotated = await deps.apikeys.rotate(k.id, actor(req))
        const until = rotated.previous.expiresAt.toISOString().replace('T', ' ').slice(0, 16)
        const page = keySecretPage({
          title: t('keys.secret.rotatedTitle'),
          key: rotated.key,
          signingSecret: rotated.signingSecret,
          name: k.name,
          note: `The old key keeps working until ${until} UTC, so you can switch your programs over.`,
        })
        sendPage(ctx, page)
      },
    },
    {
      method: 'post',
      path: '/keys/:id/revoke',
      handle: async (ctx, req) => {
        const k = await ownKey(req, ctx.params.id)
        if (req.params.get('confirm') !== 'yes')
          return sendPage(ctx, revokeKeyPage({ csrf: req.csrf, id: k.id, name: k.name }))
        await deps.apikeys.revoke(k.id, actor(req))
        seeOther(ctx, '/account/keys?done=revoked')
      },
    },
  ]
}

/** The key page's data: the user's keys, the scopes they may grant, the levels. */
function keyView(deps: KeyPageDeps) {
  return async (req: SignedIn, extra: Partial<KeysView> = {}): Promise<KeysView> => {
    const keys = await deps.apikeys.list(owner(req.user.id))
    keys.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())
    return {
      csrf: req.csrf,
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
      grantable: (await deps.apikeys.owners.describedScopes(owner(req.user.id))).map((g) => ({
        ...g,
        // portcullis's own API scopes are described in the catalogues, in the page's language
        ...(isApiScope(g.name) ? { description: t(`scope.${g.name}`) } : {}),
        management: isManagementScope(g.name),
      })),
      stepUp: await deps.mfa.hasFactor(req.user.id),
      levels: LEVELS.map((l) => ({ name: l, maxDays: LEVEL_RULES[l].maxLifetimeDays, rule: t(LEVEL_TEXT[l]) })),
      ...extra,
    }
  }
}

/**
 * `POST /account/keys`: the form's own checks, then the step-up a management scope needs
 * (issue 10 §1, identity/step-up.ts), then the key service, whose refusals come back by field.
 */
function createKey(deps: KeyPageDeps, view: ReturnType<typeof keyView>) {
  return async (ctx: Context, req: SignedIn) => {
    const { form, errors, level, days, rateLimit, allowedIps, second } = readKeyForm(req.params)
    const again = async (status: number) => sendPage(ctx, accountKeysPage(await view(req, { form, errors })), status)
    if (Object.keys(errors).length || !level) return again(400)
    const wanted = form.scopes.filter((x) => isManagementScope(x))
    if (wanted.length) {
      const r = await deps.account.stepUp.verify(req.s, req.user, second, 'apikey.management_scope', req.meta)
      if (!r.ok) {
        const ask = t('keys.error.stepUp', { scopes: wanted.join(', '), count: wanted.length })
        errors.second_factor =
          r.reason === 'locked'
            ? t('keys.error.tooManyCodes', { count: r.retryAfter })
            : r.reason === 'wrong'
              ? `${t('keys.error.codeWrong')} ${ask}`
              : ask
        return again(401)
      }
    }
    try {
      const issued = await deps.apikeys.issue(
        {
          owner: owner(req.user.id),
          name: form.name,
          scopes: form.scopes,
          level,
          ...(days ? { expiresAt: new Date(Date.now() + days * DAY) } : {}),
          allowedIps,
          rateLimit,
          ...(form.signing ? { signing: { alg: 'hmac-sha256' as const } } : {}),
        },
        actor(req),
      )
      const pending = keyStatus(issued.record) === 'pending_approval'
      const page = keySecretPage({
        title: t('keys.secret.newTitle'),
        key: issued.key,
        signingSecret: issued.signingSecret,
        name: form.name,
        ...(pending ? { note: t('keys.secret.pending') } : {}),
      })
      sendPage(ctx, page)
    } catch (err) {
      // The service's own rules (scopes wider than the user's, CIDR syntax, ...) as form messages.
      if (!(err instanceof AppError) || err.status >= 500) throw err
      Object.assign(errors, serviceErrors(err))
      return again(err.status === 403 ? 403 : 400)
    }
  }
}
