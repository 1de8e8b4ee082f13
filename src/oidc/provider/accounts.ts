import type { Configuration } from 'oidc-provider'
import type { Config } from '../../config/env.ts'
import type { UserService } from '../../identity/users.ts'
import { apiKeyExchangeClient } from '../apikey-exchange.ts'
import { addressAndPhoneClaims } from '../standard-claims.ts'
import { ACCOUNT_CLIENT_ID, CONSOLE_CLIENT_ID } from '../login-policy.ts'

/** oidc-provider's account lookup: an enabled user and the claims it releases. */
export function findAccount(users: UserService): NonNullable<Configuration['findAccount']> {
  return async function findAccount(_ctx, sub) {
    const user = await users.findById(sub)
    if (!user || user.disabled) return undefined
    return {
      accountId: user.id,
      async claims() {
        return {
          sub: user.id,
          email: user.email,
          email_verified: user.emailVerified,
          name: user.name ?? undefined,
          updated_at: Math.floor(user.updatedAt.getTime() / 1000),
          roles: user.roles,
          // OIDC Core §5.4 address and phone scopes, from the user's attributes (standard-claims.ts)
          ...addressAndPhoneClaims(user.attributes),
        }
      },
    }
  }
}

/**
 * The account pages' own first-party client (README "Account pages"): signs in with
 * response_type=none and prompt=login, so the pages never hold tokens. The admin console's, and
 * the API key exchange client when keys may be exchanged.
 */
export function firstPartyClients(config: Readonly<Config>, apiKeyExchange: boolean): Configuration['clients'] {
  return [
    {
      // scope: the pages only sign in; like every client it gets no more than it is given.
      client_id: ACCOUNT_CLIENT_ID,
      client_name: 'your portcullis account',
      token_endpoint_auth_method: 'none',
      scope: 'openid',
      grant_types: [],
      response_types: ['none'],
      redirect_uris: [`${config.PUBLIC_URL}/account/callback`],
    },
    {
      // The admin console (admin/console/): authorization code + PKCE, no secret, MFA unless
      // ADMIN_CONSOLE_REQUIRE_MFA=false (login-policy.ts `require_mfa`).
      client_id: CONSOLE_CLIENT_ID,
      client_name: 'portcullis admin console',
      token_endpoint_auth_method: 'none',
      scope: 'openid email admin',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [`${config.PUBLIC_URL}/admin/callback`],
      post_logout_redirect_uris: [`${config.PUBLIC_URL}/admin/signed-out`],
      require_mfa: config.ADMIN_CONSOLE_REQUIRE_MFA,
    },
    ...(apiKeyExchange ? [apiKeyExchangeClient] : []),
  ]
}

/** The grant a request continues with; the first-party clients get theirs without consent. */
export function loadExistingGrant(API: string): NonNullable<Configuration['loadExistingGrant']> {
  return async function loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session!.grantIdFor(ctx.oidc.client!.clientId)
    if (grantId) return ctx.oidc.provider.Grant.find(grantId)
    // First-party: the account pages need no consent.
    if (ctx.oidc.client?.clientId === ACCOUNT_CLIENT_ID && ctx.oidc.session?.accountId) {
      const grant = new ctx.oidc.provider.Grant({
        clientId: ACCOUNT_CLIENT_ID,
        accountId: ctx.oidc.session.accountId,
      })
      grant.addOIDCScope('openid')
      await grant.save()
      return grant
    }
    // First-party too: the console asks for `admin` at our API; the token gets it only when the
    // user holds an admin role (getResourceServerInfo), so there is nothing to consent to.
    if (ctx.oidc.client?.clientId === CONSOLE_CLIENT_ID && ctx.oidc.session?.accountId) {
      const grant = new ctx.oidc.provider.Grant({
        clientId: CONSOLE_CLIENT_ID,
        accountId: ctx.oidc.session.accountId,
      })
      // `admin` is also one of the provider's scopes, so the OIDC side of the grant names it too
      grant.addOIDCScope('openid email admin')
      grant.addResourceScope(API, 'admin')
      await grant.save()
      return grant
    }
    return undefined
  }
}
