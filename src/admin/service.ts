import fs from 'node:fs/promises'
import path from 'node:path'
import type { Container } from '../container.ts'
import { POLICIES_DIR } from '../authz/stores.ts'
import { adminAuthority, SYSTEM_MODEL, SYSTEM_POLICY_FILE, SYSTEM_STORE } from './authority.ts'
import { adminQueries } from './queries.ts'
import { adminUsers } from './users.ts'
import { adminUserCare } from './user-care.ts'
import { adminClients } from './clients.ts'

/**
 * The admin services (issue 12 §1, §2): users and clients administration, every action decided
 * by the `system` policy store (authority.ts) and audited with the changed fields' before/after.
 *
 * A change and its audit record commit together: the record is written in the change's own
 * transaction (`audit.with`, db/audited.ts) and chained right after by the audit appender.
 */
export function adminServices(c: Container) {
  const authority = adminAuthority({ decide: c.authz.decide, stores: c.authz.stores, users: c.users, audit: c.audit })
  const q = adminQueries(c.db)
  const users = adminUsers(c, q, authority)
  return { authority, users: { ...users, ...adminUserCare(c, q, authority, users.find) }, clients: adminClients(c, q, authority) }
}
export type AdminServices = ReturnType<typeof adminServices>

/**
 * Creates the `system` store at first start (policies/system.conf + system.csv) with `admin`
 * granted to the bootstrap administrator (PORTCULLIS_ADMIN_EMAIL, default admin@localhost) —
 * also on an existing deployment upgrading to this version. Without that user nobody could hold
 * admin, so the store is not created until the administrator exists.
 */
export async function ensureSystemPolicyStore(c: Container, firstAdmin?: { id: string; email: string }): Promise<boolean> {
  if (await c.queries.policies.findStore(SYSTEM_STORE)) return false
  // `firstAdmin`: break-glass on a database no server has bootstrapped (`admin grant-role X admin`)
  const admin = firstAdmin ?? await c.users.findByEmail(c.config.PORTCULLIS_ADMIN_EMAIL ?? 'admin@localhost')
  if (!admin) return false
  const rules = await fs.readFile(path.join(POLICIES_DIR, SYSTEM_POLICY_FILE), 'utf8')
  try {
    await c.authz.stores.createBuiltin({
      name: SYSTEM_STORE, model: SYSTEM_MODEL, description: 'built-in: who may administer portcullis (admin roles)',
      policy: `${rules}\ng, user:${admin.id}, admin\n`,
    }, 'bootstrap', `created at start; admin granted to ${admin.email}`, () => [
      { action: 'admin.role_granted', outcome: 'success', actor: 'bootstrap', target: `user:${admin.id}`, details: { role: 'admin', before: { roles: [] }, after: { roles: ['admin'] } } },
    ])
  } catch (err) {
    // another instance created it at the same moment
    if ((err as { code?: string }).code === 'store_exists') return false
    throw err
  }
  return true
}
