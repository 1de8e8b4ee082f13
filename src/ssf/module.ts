import type { AuditLog } from '../audit/log.ts'
import { open, seal, type Keyring } from '../crypto/envelope.ts'
import type { Db } from '../db/client.ts'
import type { UserService } from '../identity/users.ts'
import type { Logger } from '../logger.ts'
import type { FeatureModule } from '../module.ts'
import type { KeyStore } from '../oidc/keys.ts'
import { ssfQueries } from './queries.ts'
import { ssfService } from './service.ts'

/**
 * The Shared Signals transmitter: follows the audit log and pushes (or queues for polling) a
 * Security Event Token per subscribed event. On stop it pushes what is due one last time.
 */
export function ssfModule(deps: {
  db: Db
  keys: KeyStore
  audit: AuditLog
  logger: Logger
  issuer: string
  users: Pick<UserService, 'findById'>
  ring: Keyring
}) {
  const { ring } = deps
  const ssf = ssfService({
    q: ssfQueries(deps.db),
    keys: deps.keys,
    audit: deps.audit,
    logger: deps.logger,
    issuer: deps.issuer,
    userById: (id) => deps.users.findById(id),
    sealer: { seal: (t, ctx) => seal(ring, t, ctx), open: (t, ctx) => open(ring, t, ctx) },
  })
  let stopSsf: (() => void) | undefined
  return {
    ssf,
    start() {
      stopSsf = ssf.start()
    },
    async stop() {
      stopSsf?.()
      await ssf.pushDue()
    },
  } satisfies FeatureModule
}
