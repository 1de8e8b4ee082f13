import type { Logger } from '../logger.ts'
import type { ApiKeyService } from '../apikeys/service.ts'
import type { AuditLog } from '../audit/log.ts'
import type { AuditChain } from '../audit/service.ts'
import type { ComplianceReport } from '../audit/report.ts'
import type { PolicyStores } from '../authz/stores.ts'
import type { AccountStatus } from '../identity/account-status.ts'
import type { UserQueries } from '../identity/queries.ts'
import type { UserService } from '../identity/users.ts'
import type { ClientService } from '../oidc/clients.ts'
import type { KeyStore } from '../oidc/keys.ts'
import type { ClientQueries } from '../oidc/queries/clients.ts'
import type { ResourceQueries } from '../oidc/queries/resources.ts'

/**
 * What the newer admin services (platform.ts, containment.ts, reviews.ts) need, named narrowly
 * instead of the whole container (eslint/layering.js); service.ts hands the container's parts in.
 */
export interface AdminDeps {
  config: { PUBLIC_URL: string; ACCESS_TOKEN_TTL: number; ID_TOKEN_TTL: number }
  logger: Pick<Logger, 'warn'>
  audit: AuditLog
  auditChain: Pick<AuditChain, 'query'>
  /** the compliance report of the last `days` days (audit/report.ts) */
  report: (days: number) => Promise<ComplianceReport>
  resources: ResourceQueries
  keys: KeyStore
  apikeys: ApiKeyService
  clients: ClientService
  users: UserService
  accounts: AccountStatus
  login: {
    sessions: {
      revoke(userId: string, ids: string[] | 'all'): Promise<number>
      signOutEverywhere(userId: string): Promise<{ sessionsEnded: number; receiversNotified: number }>
    }
  }
  queries: { users: Pick<UserQueries, 'list'>; clients: ClientQueries; resources: ResourceQueries }
  authz: { stores: PolicyStores }
  /** reload the provider on this instance when keys or resources changed */
  refresh(): Promise<unknown>
  /** tell every instance that clients, resources or keys changed */
  configChanged(): Promise<void>
}
