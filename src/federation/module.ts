import type { AuditLog } from '../audit/log.ts'
import type { Keyring } from '../crypto/envelope.ts'
import type { Db } from '../db/client.ts'
import type { UserService } from '../identity/users.ts'
import type { Logger } from '../logger.ts'
import { federationQueries } from './queries.ts'
import { federationService } from './service.ts'

/**
 * Sign-in through upstream identity providers (issue 14 §6). Providers are cached; the
 * configuration notice (oidc/module.ts) invalidates them when another instance changed one.
 */
export function federationModule(deps: {
  db: Db
  ring: Keyring
  users: UserService
  audit: AuditLog
  publicUrl: string
  logger: Logger
}) {
  return {
    federation: federationService({
      queries: federationQueries(deps.db),
      ring: deps.ring,
      users: deps.users,
      audit: deps.audit,
      publicUrl: deps.publicUrl,
      logger: deps.logger,
    }),
  }
}
