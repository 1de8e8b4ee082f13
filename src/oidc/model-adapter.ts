import type { Redis } from 'ioredis'
import type { AuditLog } from '../audit/log.ts'
import { hashPassword } from '../identity/passwords.ts'
import {
  clientAdapter,
  modelRouter,
  prismaAdapter,
  redisAdapter,
  retainLonger,
  revokingGrantJwts,
  type AdapterFactory,
} from './adapters.ts'
import type { ClientQueries } from './queries/clients.ts'
import { registeredClientRemoval } from './client-removal.ts'
import type { PayloadQueries } from './queries/payloads.ts'

/**
 * Where oidc-provider keeps its models (oidc/adapters.ts): short-lived ones in Redis when
 * configured, the rest in the database; clients from the clients table, cached in memory.
 * Authorization codes are kept as long as what they issue may live, so a late replay still
 * revokes it (oidc/code-redemption.ts); a revoked grant takes its JWT access tokens with it.
 */
export function providerAdapter(deps: {
  payloads: PayloadQueries
  redis?: Redis
  redisPrefix: string
  /** the cached client lookup, and the table itself (which writes drop the cache of) */
  cachedClients: Pick<ClientQueries, 'find'>
  clients: Pick<ClientQueries, 'find' | 'upsert' | 'remove'>
  audit: Pick<AuditLog, 'with'>
  /** every other instance drops its cached client (the configuration notice) */
  announce: () => Promise<void>
  /** REFRESH_TOKEN_TTL */
  refreshTokenTtl: number
  revokeGrant: (grantId: string) => Promise<void>
}): AdapterFactory {
  const { clients, audit } = deps
  const removeRegisteredClient = registeredClientRemoval({
    clients,
    audit,
    revokeGrantJwts: deps.revokeGrant,
    redis: deps.redis,
    prefix: deps.redisPrefix,
  })
  return revokingGrantJwts(
    retainLonger(
      modelRouter({
        db: prismaAdapter(deps.payloads),
        redis: deps.redis ? redisAdapter(deps.redis, deps.redisPrefix) : undefined,
        // Dynamic client registration (oidc/dynamic-registration.ts) writes here: the row and its
        // audit record commit together, and every instance drops its cached client.
        clients: clientAdapter(deps.cachedClients, {
          hash: hashPassword,
          upsert: async (clientId, metadata, secretHash) => {
            const existed = Boolean(await clients.find(clientId))
            await clients.upsert(
              clientId,
              metadata,
              secretHash,
              audit.with(() => ({
                action: existed ? 'client.updated' : 'client.registered',
                outcome: 'success',
                actor: `client:${clientId}`,
                target: clientId,
                details: {
                  dynamic: true,
                  scope: metadata.scope ?? null,
                  grant_types: metadata.grant_types ?? null,
                  redirect_uris: metadata.redirect_uris ?? null,
                },
              })),
            )
            await deps.announce()
          },
          // RFC 7592 §2.3: a client that deletes itself takes its grants and tokens with it
          remove: async (clientId) => {
            await removeRegisteredClient(clientId)
            await deps.announce()
          },
        }),
      }),
      { AuthorizationCode: deps.refreshTokenTtl },
    ),
    deps.revokeGrant,
  )
}
