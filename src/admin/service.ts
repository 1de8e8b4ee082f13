import fs from 'node:fs/promises'
import path from 'node:path'
import type { AuditLog } from '../audit/log.ts'
import type { Decider } from '../authz/decide.ts'
import type { PolicyQueries } from '../authz/queries.ts'
import type { PolicyStores } from '../authz/stores.ts'
import type { Config } from '../config/env.ts'
import type { Db } from '../db/client.ts'
import type { UserService } from '../identity/users.ts'
import { POLICIES_DIR } from '../authz/stores.ts'
import { lineKey, parsePolicyCsv } from '../authz/policy-csv.ts'
import { adminAuthority, SYSTEM_MODEL, SYSTEM_POLICY_FILE, SYSTEM_STORE } from './authority.ts'
import { adminQueries } from './queries.ts'
import { adminUsers, type AdminUsersDeps } from './users.ts'
import { adminUserCare, type AdminUserCareDeps } from './user-care.ts'
import { adminClients, type AdminClientsDeps } from './clients.ts'
import { accessQueries } from './queries/access.ts'
import { adminElevation, elevatedRoles } from './elevation.ts'
import { adminPlatform } from './platform.ts'
import { adminContainment, type SignOutNotifier } from './containment.ts'
import { adminReviews } from './reviews.ts'
import { adminIdentityProviders, type IdpDeps } from './identity-providers.ts'
import { buildReport } from '../audit/report.ts'
import { reportDeps, type ReportSources } from '../audit/report-deps.ts'
import type { AdminDeps } from './deps.ts'

/**
 * What the admin services need of the running server: each part's own narrow deps (the
 * container has this shape; DESIGN.md "Layout": no feature takes the container).
 */
export type AdminServiceDeps = Omit<AdminDeps, 'report'> &
  AdminUsersDeps &
  AdminUserCareDeps &
  AdminClientsDeps &
  IdpDeps &
  ReportSources & {
    db: Db
    audit: AuditLog
    authz: { decide: Decider; stores: PolicyStores }
  }

/** What creating (or topping up) the built-in `system` store needs. */
export interface SystemStoreDeps {
  queries: { policies: Pick<PolicyQueries, 'findStore'> }
  users: Pick<UserService, 'findByEmail'>
  config: Pick<Config, 'PORTCULLIS_ADMIN_EMAIL'>
  authz: { stores: Pick<PolicyStores, 'createBuiltin' | 'current' | 'changeBuiltin'> }
}

export interface AdminServiceOptions {
  /** Back-channel logout: told when containment ends a user's or client's sessions (containment.ts). */
  notifySignOut?: SignOutNotifier
}

/**
 * The admin services (issue 12 §1, §2): users and clients administration, every action decided
 * by the `system` policy store (authority.ts) and audited with the changed fields' before/after.
 *
 * A change and its audit record commit together: the record is written in the change's own
 * transaction (`audit.with`, db/audited.ts) and chained right after by the audit appender.
 */
export function adminServices(c: AdminServiceDeps, opts: AdminServiceOptions = {}) {
  const access = accessQueries(c.db)
  const elevated = elevatedRoles(access, c.audit)
  const authority = adminAuthority({
    decide: c.authz.decide,
    stores: c.authz.stores,
    users: c.users,
    audit: c.audit,
    elevated: elevated.of,
  })
  const q = adminQueries(c.db)
  const users = adminUsers(c, q, authority)
  const clients = adminClients(c, q, authority)
  const deps: AdminDeps = { ...c, report: (days) => buildReport(reportDeps(c), { days }) }
  const elevation = adminElevation({
    q: access,
    audit: c.audit,
    authority,
    auditExpired: () => elevated.auditExpired(),
  })
  return {
    authority,
    users: { ...users, ...adminUserCare(c, q, authority, users.find) },
    clients,
    ...adminPlatform(deps, authority),
    elevation,
    containment: adminContainment(deps, { authority, q, access, elevation, notifySignOut: opts.notifySignOut }),
    reviews: adminReviews(deps, { q: access, authority, elevation, users, clients }),
    identityProviders: adminIdentityProviders(c, authority),
  }
}
export type AdminServices = ReturnType<typeof adminServices>

/**
 * Creates the `system` store at first start (policies/system.conf + system.csv) with `admin`
 * granted to the bootstrap administrator (PORTCULLIS_ADMIN_EMAIL, default admin@localhost) —
 * also on an existing deployment upgrading to this version. Without that user nobody could hold
 * admin, so the store is not created until the administrator exists.
 */
export async function ensureSystemPolicyStore(
  c: SystemStoreDeps,
  firstAdmin?: { id: string; email: string },
): Promise<boolean> {
  if (await c.queries.policies.findStore(SYSTEM_STORE)) {
    await addNewRoleRules(c)
    return false
  }
  // `firstAdmin`: break-glass on a database no server has bootstrapped (`admin grant-role X admin`)
  const admin = firstAdmin ?? (await c.users.findByEmail(c.config.PORTCULLIS_ADMIN_EMAIL ?? 'admin@localhost'))
  if (!admin) return false
  const rules = await fs.readFile(path.join(POLICIES_DIR, SYSTEM_POLICY_FILE), 'utf8')
  try {
    await c.authz.stores.createBuiltin(
      {
        name: SYSTEM_STORE,
        model: SYSTEM_MODEL,
        description: 'built-in: who may administer portcullis (admin roles)',
        policy: `${rules}\ng, user:${admin.id}, admin\n`,
      },
      'bootstrap',
      `created at start; admin granted to ${admin.email}`,
      () => [
        {
          action: 'admin.role_granted',
          outcome: 'success',
          actor: 'bootstrap',
          target: `user:${admin.id}`,
          details: { role: 'admin', before: { roles: [] }, after: { roles: ['admin'] } },
        },
      ],
    )
  } catch (err) {
    // another instance created it at the same moment
    if ((err as { code?: string }).code === 'store_exists') return false
    throw err
  }
  return true
}

/**
 * An existing `system` store gets the role rules (`p` lines) a newer policies/system.csv adds,
 * e.g. `p, auditor, roles, read`. The store is reserved (only grants change it), so its `p`
 * lines only ever come from that file: adding the missing ones undoes nobody's choice.
 */
async function addNewRoleRules(c: SystemStoreDeps) {
  const rules = parsePolicyCsv(await fs.readFile(path.join(POLICIES_DIR, SYSTEM_POLICY_FILE), 'utf8')).lines.filter(
    (l) => l[0] === 'p',
  )
  const present = new Set((await c.authz.stores.current(SYSTEM_STORE)).lines.map(lineKey))
  const missing = rules.filter((l) => !present.has(lineKey(l)))
  if (!missing.length) return
  try {
    await c.authz.stores.changeBuiltin(
      SYSTEM_STORE,
      { add: missing },
      'bootstrap',
      `role rules added by this version: ${missing.map((l) => l.join(', ')).join('; ')}`,
    )
  } catch (err) {
    // another instance added them at the same moment
    if ((err as { code?: string }).code !== 'version_conflict') throw err
  }
}
