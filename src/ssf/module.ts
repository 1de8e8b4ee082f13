import type { AuditLog } from '../audit/log.ts'
import { open, seal, type Keyring } from '../crypto/envelope.ts'
import type { Db } from '../db/client.ts'
import type { Redis } from 'ioredis'
import type { Logger } from '../logger.ts'
import type { FeatureModule } from '../module.ts'
import type { KeyStore } from '../oidc/keys.ts'
import { ssfQueries } from './queries.ts'
import { ssfService } from './service.ts'

/**
 * The Shared Signals transmitter: queues a Security Event Token per subscribed event in the
 * audited change's own transaction, pushes it (or keeps it for polling; long polls hear of new SETs
 * over Redis across instances). On stop it releases waiting polls and pushes what is due once more.
 */
export function ssfModule(deps: {
  db: Db
  keys: KeyStore
  audit: AuditLog
  logger: Logger
  issuer: string
  ring: Keyring
  redis?: Redis
  redisPrefix: string
}) {
  const { ring } = deps
  const ssf = ssfService({
    q: ssfQueries(deps.db),
    keys: deps.keys,
    audit: deps.audit,
    logger: deps.logger,
    issuer: deps.issuer,
    sealer: { seal: (t, ctx) => seal(ring, t, ctx), open: (t, ctx) => open(ring, t, ctx) },
    redis: deps.redis,
    redisPrefix: deps.redisPrefix,
  })
  let stopSsf: (() => Promise<void>) | undefined
  return {
    ssf,
    start() {
      stopSsf = ssf.start()
    },
    async stop() {
      await stopSsf?.()
      await ssf.pushDue()
    },
  } satisfies FeatureModule
}
