import type Provider from 'oidc-provider'
import type { KoaContextWithOIDC } from 'oidc-provider'
import { sessionToken } from '../login-policy.ts'
import type { ProviderDeps } from './deps.ts'

/** The provider events passed on to `onEvent` (the audit trail, metrics). */
const FORWARDED = [
  'grant.success',
  'grant.error',
  'grant.revoked',
  'end_session.success',
  'server_error',
  'authorization.error',
  'backchannel.error',
  'backchannel.success',
]

/** Sign-in sessions end with the provider's session; provider events reach `onEvent`. */
export function subscribeEvents(provider: Provider, deps: Pick<ProviderDeps, 'login' | 'onEvent'>) {
  if (deps.login) {
    const hooks = deps.login
    // RP-initiated logout ends the sign-in session too ("logout everywhere it is used"). The
    // same event ends A's session when B signs in in A's browser (oidc-provider's resume step
    // logs A out first): the cookie then already holds B's new sign-in session, so only the
    // sign-in sessions of the ended oidc-provider session (its uid and account) end.
    provider.on('end_session.success', (ctx: KoaContextWithOIDC) => {
      const { uid, accountId } = ctx.oidc.session ?? {}
      if (!uid) return
      void hooks.sessionEnded(sessionToken(ctx, hooks), { uid, accountId }).catch(() => undefined)
    })
  }
  if (deps.onEvent) {
    const emit = deps.onEvent
    for (const name of FORWARDED) {
      provider.on(name as 'server_error', (...args: unknown[]) => emit(name, ...args))
    }
    // oidc-provider has no event for a successful RFC 7009 revocation (only `<kind>.destroyed`,
    // without the request): a post-middleware reads the token the revocation endpoint resolved.
    provider.use(async (ctx, next) => {
      await next()
      if (ctx.oidc?.route !== 'revocation' || ctx.status !== 200) return
      const entities = ctx.oidc.entities as Record<string, unknown>
      const token = entities.AccessToken ?? entities.ClientCredentials ?? entities.RefreshToken
      if (token) emit('revocation.success', ctx, token)
    })
  }
}
