/**
 * OpenID Connect Back-Channel Logout 1.0 for sessions ended outside the end-session endpoint
 * (an administrator revoking sessions, disabling a user, a password reset, "sign out
 * everywhere"). oidc-provider's `backchannelLogout` feature notifies the clients of a session
 * ended through RP-initiated logout itself; this does the same, with oidc-provider's own logout
 * token (Client#backchannelLogout: signed with our keys, `events`, `jti`, `sid` when the client
 * asked for it, §2.4), for a session found by its uid.
 */

import type Provider from 'oidc-provider'

/**
 * The parts of an oidc-provider Session and Client this uses. Client#backchannelLogout is
 * oidc-provider's own (lib/models/client.js) but missing from its type definitions.
 */
interface SessionView {
  accountId?: string
  authorizations?: Record<string, unknown>
  sidFor(clientId: string): string | undefined
  destroy(): Promise<void>
}
interface ClientView {
  clientId: string
  backchannelLogoutUri?: string
  backchannelLogout(sub: string, sid: string | undefined): Promise<void>
}
interface LogoutProvider {
  Session: { findByUid(uid: string): Promise<SessionView | undefined> }
  Client: { find(id: string): Promise<ClientView | undefined> }
}

/** One delivery of a logout token: to which client, for which account, and how it went. */
export interface LogoutDelivery {
  clientId: string
  accountId: string
  outcome: 'success' | 'failure'
  /** why it failed (never the token) */
  error?: string
}

/**
 * Ends an oidc-provider session by its uid after notifying, in parallel, every client that took
 * part in it and registered a `backchannel_logout_uri` (§2.5: the RP answers 200; anything else,
 * or no answer within oidc-provider's HTTP timeout, is a failed delivery). The session ends
 * whatever the deliveries' outcome: a client that cannot be reached must not keep a user signed
 * in. Each delivery is reported to `report` (for the audit log).
 */
export async function endOidcSessionNotifying(
  oidcProvider: Provider,
  uid: string,
  report?: (d: LogoutDelivery) => void,
): Promise<LogoutDelivery[]> {
  const provider = oidcProvider as unknown as LogoutProvider
  if (
    typeof (provider.Client as unknown as { prototype?: { backchannelLogout?: unknown } }).prototype
      ?.backchannelLogout !== 'function'
  ) {
    throw new Error('this oidc-provider has no Client#backchannelLogout')
  }
  const session = await provider.Session.findByUid(uid)
  if (!session) return []
  const accountId = session.accountId
  const deliveries = await Promise.all(
    Object.keys(session.authorizations ?? {}).map(async (clientId): Promise<LogoutDelivery | undefined> => {
      if (!accountId) return undefined
      const client = await provider.Client.find(clientId).catch(() => undefined)
      if (!client?.backchannelLogoutUri) return undefined
      try {
        await client.backchannelLogout(accountId, session.sidFor(clientId))
        return { clientId, accountId, outcome: 'success' }
      } catch (err) {
        return { clientId, accountId, outcome: 'failure', error: (err as Error).message.slice(0, 300) }
      }
    }),
  )
  await session.destroy()
  const done = deliveries.filter((d): d is LogoutDelivery => d !== undefined)
  for (const d of done) report?.(d)
  return done
}
