import crypto from 'node:crypto'
import type { AuditLog } from './audit/log.ts'
import type { PolicyQueries } from './authz/queries.ts'
import type { PolicyStores } from './authz/stores.ts'
import type { Config } from './config/env.ts'
import type { SettingQueries } from './db/settings.ts'
import type { UserService } from './identity/users.ts'

/** What the first administrator needs (the container has this shape; no file here takes the container). */
export interface EnsureAdminDeps {
  settings: Pick<SettingQueries, 'claim'>
  config: Pick<Config, 'PORTCULLIS_ADMIN_EMAIL' | 'PORTCULLIS_ADMIN_PASSWORD'>
  users: Pick<UserService, 'findByEmail' | 'create'>
  audit: Pick<AuditLog, 'with'>
}

/** What the first `default` policy store needs. */
export interface DefaultStoreDeps {
  settings: Pick<SettingQueries, 'claim'>
  queries: { policies: Pick<PolicyQueries, 'findStore'> }
  authz: { stores: Pick<PolicyStores, 'create'> }
}

/**
 * First start: an administrator. Its email and password come from PORTCULLIS_ADMIN_EMAIL /
 * PORTCULLIS_ADMIN_PASSWORD, or a one-time password is generated and returned so the caller
 * prints it once (the user must change it at first login). Runs at most once per database:
 * the `bootstrap.admin` setting is claimed atomically, so two instances starting together
 * create one admin.
 */
export async function ensureAdmin(c: EnsureAdminDeps): Promise<{ email: string; password?: string } | null> {
  if (!(await c.settings.claim('bootstrap.admin', new Date().toISOString()))) return null
  const email = c.config.PORTCULLIS_ADMIN_EMAIL ?? 'admin@localhost'
  if (await c.users.findByEmail(email)) return null
  const given = c.config.PORTCULLIS_ADMIN_PASSWORD
  const password = given ?? crypto.randomBytes(18).toString('base64url')
  await c.users.create(
    { email, password, name: 'Administrator', roles: ['admin'], emailVerified: true, mustChangePassword: !given },
    c.audit.with((user) => ({
      action: 'user.created',
      outcome: 'success',
      actor: 'bootstrap',
      target: user.id,
      details: { email, roles: ['admin'] },
    })),
  )
  return { email, password: given ? undefined : password }
}

/** First start: a `default` policy store (RBAC, no lines) so AuthZEN callers have a target. */
export async function ensureDefaultPolicyStore(c: DefaultStoreDeps): Promise<boolean> {
  if (await c.queries.policies.findStore('default')) return false
  if (!(await c.settings.claim('bootstrap.default_policy_store', new Date().toISOString()))) return false
  await c.authz.stores.create(
    { name: 'default', model: 'rbac.conf', description: 'created at first start' },
    'bootstrap',
    'created at first start',
  )
  return true
}
