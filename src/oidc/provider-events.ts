import type { IncomingMessage } from 'node:http'
import type { KoaContextWithOIDC } from 'oidc-provider'
import type { AuditLog } from '../audit/log.ts'
import { isDependencyUnavailable } from '../db/unavailable.ts'
import type { ClientIp } from '../http/client-ip.ts'
import { requestIdOf } from '../http/middleware/request.ts'
import type { Logger } from '../logger.ts'
import type { ApiKeyExchangeDeps } from './apikey-exchange.ts'
import { endOidcSessionNotifying } from './backchannel-logout.ts'
import type { OidcProvider } from './provider.ts'
import type { TokenExchangeDeps } from './token-exchange.ts'

/**
 * What oidc-provider's events mean for the audit log (and the error log): the provider emits
 * them (`provider.on(name, ...)`, buildProvider's `onEvent`); each one a user or an auditor
 * would want to see becomes one audit record. Never a token itself.
 */
export function providerEventRecorder(deps: { audit: Pick<AuditLog, 'record'>; logger: Logger }) {
  const { audit, logger } = deps
  return (name: string, args: unknown[]) => {
    const raw = args[0] as
      | {
          oidc?: { client?: { clientId: string }; params?: Record<string, unknown>; session?: { accountId?: string } }
          ip?: string
          req?: IncomingMessage
        }
      | undefined
    // oidc-provider's context is its own Koa app's: our request id is found by the raw request
    const ctx = raw && { oidc: raw.oidc, ip: raw.ip, state: { requestId: requestIdOf(raw.req) } }
    if (name === 'server_error') {
      // a database/Redis outage is answered with 503 (oidc/unavailable.ts): one line, no stack
      if (isDependencyUnavailable(args[1]))
        logger.warn({ err: (args[1] as Error)?.message, requestId: ctx?.state.requestId }, 'dependency unavailable')
      else logger.error({ err: args[1], requestId: ctx?.state.requestId }, 'oidc-provider server error')
      return
    }
    if (name === 'grant.success') {
      void audit.record({
        action: 'token.issued',
        outcome: 'success',
        actor: ctx?.oidc?.client?.clientId,
        details: { grant_type: ctx?.oidc?.params?.grant_type },
        ip: ctx?.ip,
        requestId: ctx?.state?.requestId,
      })
    } else if (name === 'grant.revoked') {
      void audit.record({
        action: 'grant.revoked',
        outcome: 'success',
        actor: ctx?.oidc?.client?.clientId,
        target: String(args[1]),
        ip: ctx?.ip,
        requestId: ctx?.state?.requestId,
      })
    } else if (name === 'grant.error') {
      const err = args[1] as { error?: string }
      void audit.record({
        action: 'token.issued',
        outcome: 'failure',
        actor: ctx?.oidc?.client?.clientId,
        details: { grant_type: ctx?.oidc?.params?.grant_type, error: err?.error },
        ip: ctx?.ip,
        requestId: ctx?.state?.requestId,
      })
    } else if (name === 'revocation.success') {
      // RFC 7009 revocation: recorded by grant and token kind, never the token itself.
      const token = args[1] as { kind?: string; grantId?: string } | undefined
      void audit.record({
        action: 'token.revoked',
        outcome: 'success',
        actor: ctx?.oidc?.client?.clientId,
        target: token?.grantId,
        details: { kind: token?.kind },
        ip: ctx?.ip,
        requestId: ctx?.state?.requestId,
      })
    } else if (name === 'client.ip_denied') {
      // A client with `allowed_ips` called from elsewhere (client-ip-allowlist.ts).
      const d = args[1] as { clientId: string; ip: string; route: string }
      void audit.record({
        action: 'client.ip_denied',
        outcome: 'failure',
        actor: d.clientId,
        details: { endpoint: d.route },
        ip: d.ip,
        requestId: ctx?.state?.requestId,
      })
    } else if (name === 'backchannel.success' || name === 'backchannel.error') {
      // the logout tokens oidc-provider sent at the end-session endpoint (Back-Channel Logout 1.0)
      const failed = name === 'backchannel.error'
      const [err, client, accountId] = (failed ? args.slice(1) : [undefined, ...args.slice(1)]) as [
        Error | undefined,
        { clientId?: string } | undefined,
        string | undefined,
      ]
      void audit.record({
        action: 'logout.backchannel',
        outcome: failed ? 'failure' : 'success',
        actor: null,
        target: accountId ?? null,
        details: {
          client_id: client?.clientId,
          trigger: 'end_session',
          ...(err ? { error: String(err.message).slice(0, 300) } : {}),
        },
        ip: ctx?.ip,
        requestId: ctx?.state?.requestId,
      })
    } else if (name === 'frontchannel.notified') {
      // Front-Channel Logout 1.0: the clients whose frontchannel_logout_uri the page framed
      const n = args[1] as { accountId?: string; clientIds: string[] }
      for (const clientId of n.clientIds)
        void audit.record({
          action: 'logout.frontchannel',
          outcome: 'success',
          actor: null,
          target: n.accountId ?? null,
          details: { client_id: clientId, trigger: 'end_session' },
          ip: ctx?.ip,
          requestId: ctx?.state?.requestId,
        })
    } else if (name === 'end_session.success') {
      // Names the account signed out (RP-initiated logout, or A's session ended by B's sign-in).
      void audit.record({
        action: 'logout',
        outcome: 'success',
        actor: ctx?.oidc?.client?.clientId,
        target: ctx?.oidc?.session?.accountId ?? null,
        ip: ctx?.ip,
        requestId: ctx?.state?.requestId,
      })
    }
  }
}

/** Audit records of the token-exchange grants (RFC 8693): a user's token, or an API key, exchanged. */
export function exchangeAudits(deps: { audit: Pick<AuditLog, 'record'>; clientIp: ClientIp }) {
  const { audit, clientIp } = deps
  const tokenExchange: Pick<TokenExchangeDeps, 'onExchanged' | 'onRefused'> = {
    onExchanged: (ctx, e) =>
      void audit.record({
        action: 'token.exchanged',
        outcome: 'success',
        actor: ctx.oidc.client?.clientId,
        target: e.subject,
        details: {
          mode: e.mode,
          audience: e.audience,
          scope: e.scope,
          expires_in: e.expiresIn,
          ...(e.act ? { act: e.act } : {}),
        },
        ip: clientIp(ctx),
        requestId: requestIdOf(ctx.req),
      }),
    onRefused: (ctx, e) =>
      void audit.record({
        action: 'token.exchanged',
        outcome: 'failure',
        actor: ctx.oidc.client?.clientId,
        target: null,
        details: {
          error: e.error,
          reason: e.description.slice(0, 300),
          audience: String(ctx.oidc.params?.resource ?? ctx.oidc.params?.audience ?? '').slice(0, 300),
        },
        ip: clientIp(ctx),
        requestId: requestIdOf(ctx.req),
      }),
  }
  const apiKeyExchange: Pick<ApiKeyExchangeDeps, 'onExchanged'> = {
    onExchanged: (ctx: KoaContextWithOIDC, e) =>
      void audit.record({
        action: 'apikey.exchanged',
        outcome: 'success',
        actor: e.owner,
        target: `apikey:${e.keyId}`,
        details: {
          client_id: ctx.oidc.client?.clientId,
          resource: e.resource,
          scope: e.scope,
          expires_in: e.expiresIn,
        },
        ip: clientIp(ctx),
        requestId: requestIdOf(ctx.req),
      }),
  }
  return { tokenExchange, apiKeyExchange }
}

/**
 * Ends an oidc-provider session (a sign-in session revoked in identity/): OIDC Back-Channel
 * Logout 1.0, the session's clients hear of it before it ends, each delivery audited. Resolves
 * to how many receivers accepted.
 */
export async function endSessionAudited(
  provider: OidcProvider,
  uid: string,
  audit: Pick<AuditLog, 'record'>,
): Promise<number> {
  const deliveries = await endOidcSessionNotifying(
    provider,
    uid,
    (d) =>
      void audit.record({
        action: 'logout.backchannel',
        outcome: d.outcome,
        actor: null,
        target: d.accountId,
        details: { client_id: d.clientId, trigger: 'session_revoked', ...(d.error ? { error: d.error } : {}) },
      }),
  )
  return deliveries.filter((d) => d.outcome === 'success').length
}
