import type { AuditLog } from '../audit/log.ts'
import type { Decider } from '../authz/decide.ts'
import type { PolicyStores } from '../authz/stores.ts'
import type { PolicyLine } from '../authz/policy-csv.ts'
import type { UserService } from '../identity/users.ts'
import type { Caller } from '../http/middleware/authn.ts'
import { adminError } from './errors.ts'

/**
 * Who may administer portcullis, decided by our own PDP (DESIGN.md "Authority"): the built-in
 * `system` policy store holds (role, object type, action) rules (policies/system.csv) and the
 * grants of admin roles as its `g` lines — `g, user:ID, ROLE` for users, `g, client:ID, ROLE`
 * for service accounts (client credentials). A user's `roles` field is *not* an admin grant:
 * those roles carry resource scopes (oidc/holdings.ts); admin roles live only in the store, so
 * every grant is a versioned, audited policy change.
 */
export const SYSTEM_STORE = 'system'
export const SYSTEM_MODEL = 'system.conf'
export const SYSTEM_POLICY_FILE = 'system.csv'

export const ADMIN_ROLES = ['admin', 'user-manager', 'client-manager', 'policy-editor', 'auditor', 'helpdesk'] as const
export type AdminRole = (typeof ADMIN_ROLES)[number]

/** The action vocabulary: `object type:action`. */
export const ADMIN_ACTIONS = [
  'users:read',
  'users:write',
  'users:delete',
  'users:unlock',
  'users:reset_mfa',
  'users:reset_password',
  'users:sessions',
  'clients:read',
  'clients:write',
  'clients:delete',
  'clients:rotate_secret',
  'resources:read',
  'resources:write',
  'keys:read',
  'keys:rotate',
  'apikeys:read',
  'apikeys:write',
  'policies:read',
  'policies:write',
  'audit:read',
  'report:read',
  'roles:read',
  'roles:grant',
  // upstream identity providers (sign-in through them): create, update and delete are `write`
  'idps:read',
  'idps:write',
] as const
export type AdminAction = (typeof ADMIN_ACTIONS)[number]

/** Scopes an API key (or a delegated token) needs to use its owner's admin roles. */
export const ADMIN_SCOPE = 'admin'
export const ADMIN_READ_SCOPE = 'admin:read'
const isRead = (a: AdminAction) => a.endsWith(':read')

/**
 * Who is asking. A console session is a user; client credentials are a client; an API key (or a
 * token a client obtained for a user) acts with its owner's admin roles, bounded by its scopes:
 * `admin` allows whatever the owner may, `admin:read` only the `*:read` actions. `cli` is the
 * operator on the server host (break-glass: the shell and the master key are the authority).
 */
export type AdminCaller =
  | { kind: 'user'; id: string }
  | { kind: 'client'; id: string }
  | { kind: 'api_key'; owner: { type: 'user' | 'client'; id: string }; scopes: readonly string[] }
  | { kind: 'cli' }

/**
 * The admin caller behind an authenticated API caller (http/middleware/authn.ts): client
 * credentials are the client; an API key, or a token a client obtained for a user, acts for its
 * owner bounded by its scopes.
 */
export function adminCallerOf(caller: Caller): AdminCaller {
  if (caller.kind === 'user') return { kind: 'user', id: caller.id }
  if (caller.kind === 'client' && caller.id === caller.clientId) return { kind: 'client', id: caller.id }
  const owner =
    caller.kind === 'api_key' && caller.clientId === caller.id
      ? { type: 'client' as const, id: caller.id }
      : { type: 'user' as const, id: caller.id }
  return { kind: 'api_key', owner, scopes: [...caller.scopes] }
}

export const subjectOf = (owner: { type: 'user' | 'client'; id: string }) => `${owner.type}:${owner.id}`
export const callerLabel = (c: AdminCaller) =>
  c.kind === 'cli' ? 'cli' : c.kind === 'api_key' ? `apikey-owner:${subjectOf(c.owner)}` : `${c.kind}:${c.id}`

/** The invariant of every `system` store version: some user holds `admin` (no lock-out). */
export function systemStoreGuard(lines: PolicyLine[]) {
  const admins = lines.filter((l) => l[0] === 'g' && l[2] === 'admin' && l[1]?.startsWith('user:'))
  return admins.length
    ? undefined
    : {
        code: 'last_admin' as const,
        message:
          'the system policy store must grant the admin role to at least one user (this change would lock every administrator out)',
      }
}

/**
 * Roles a subject holds for a while (time-bound grants, elevation.ts): read on every decision,
 * so a grant stops at its expiry on every instance without a restart.
 */
export type ElevatedRoles = (subject: string) => Promise<string[]>

type AuthorityDeps = {
  decide: Decider
  stores: PolicyStores
  users: Pick<UserService, 'findById'>
  audit: AuditLog
  elevated?: ElevatedRoles
}

function allowedFor(deps: AuthorityDeps, subject: string, action: AdminAction) {
  const [obj, act] = action.split(':') as [string, string]
  // no system store yet (before the first start's bootstrap): nobody but the CLI administers
  try {
    return deps.decide.check(SYSTEM_STORE, [subject, obj, act]).allowed
  } catch (err) {
    if ((err as { code?: string }).code === 'not_found') return false
    throw err
  }
}

/** The system store's grant lines; none before the store exists. */
async function grantLines(deps: AuthorityDeps): Promise<PolicyLine[]> {
  try {
    return (await deps.stores.current(SYSTEM_STORE)).lines.filter((l) => l[0] === 'g')
  } catch (err) {
    if ((err as { code?: string }).code === 'not_found') return []
    throw err
  }
}

/** A disabled or deleted user holds nothing, whatever the store still says. */
async function liveUser(deps: AuthorityDeps, id: string) {
  const u = await deps.users.findById(id)
  return Boolean(u && !u.disabled)
}

function checkRole(role: string): asserts role is AdminRole {
  if (!(ADMIN_ROLES as readonly string[]).includes(role)) {
    throw adminError('unknown_role', `unknown admin role ${role} (roles: ${ADMIN_ROLES.join(', ')})`)
  }
}

export function adminAuthority(deps: AuthorityDeps) {
  const allowed = (subject: string, action: AdminAction) => allowedFor(deps, subject, action)
  const live = (id: string) => liveUser(deps, id)

  /**
   * The subject's standing grants first; then each role it holds for a while, asking the PDP
   * what that role allows (the role itself as the subject: g(role, role) holds in casbin).
   */
  async function allowedWithElevation(subject: string, action: AdminAction) {
    if (allowed(subject, action)) return true
    if (!deps.elevated) return false
    return (await deps.elevated(subject)).some((role) => allowed(role, action))
  }

  async function grantsOf(subject: string): Promise<string[]> {
    return (await grantLines(deps)).filter((l) => l[1] === subject).map((l) => l[2]!)
  }

  const authority = {
    /** Decides through the PDP; never throws for "no". */
    async may(caller: AdminCaller, action: AdminAction): Promise<boolean> {
      if (caller.kind === 'cli') return true
      if (caller.kind === 'user') return (await live(caller.id)) && allowedWithElevation(`user:${caller.id}`, action)
      if (caller.kind === 'client') return allowed(`client:${caller.id}`, action)
      const bounded =
        caller.scopes.includes(ADMIN_SCOPE) || (isRead(action) && caller.scopes.includes(ADMIN_READ_SCOPE))
      if (!bounded) return false
      if (caller.owner.type === 'user' && !(await live(caller.owner.id))) return false
      return caller.owner.type === 'user'
        ? allowedWithElevation(subjectOf(caller.owner), action)
        : allowed(subjectOf(caller.owner), action)
    },

    /** The roles a user holds for a while now (time-bound grants). */
    elevatedOf: async (owner: { type: 'user' | 'client'; id: string }) =>
      owner.type === 'user' && deps.elevated ? deps.elevated(subjectOf(owner)) : [],

    /** `may`, or a 403 `forbidden` naming the action. */
    async require(caller: AdminCaller, action: AdminAction) {
      if (!(await authority.may(caller, action))) throw adminError('forbidden', `not allowed: ${action}`)
    },

    /** The admin roles granted to a user or client (directly, in the system store). */
    rolesOf: (owner: { type: 'user' | 'client'; id: string }) => grantsOf(subjectOf(owner)),

    /** Users that hold `admin` and may use it (enabled). */
    async activeAdmins(): Promise<string[]> {
      const ids = (await grantLines(deps))
        .filter((l) => l[2] === 'admin' && l[1]?.startsWith('user:'))
        .map((l) => l[1]!.slice(5))
      const alive = await Promise.all(ids.map(live))
      return ids.filter((_, i) => alive[i])
    },

    async grant(caller: AdminCaller, owner: { type: 'user' | 'client'; id: string }, role: string, reason?: string) {
      await authority.require(caller, 'roles:grant')
      checkRole(role)
      const before = await grantsOf(subjectOf(owner))
      if (before.includes(role)) return { changed: false }
      // the grant and its record commit with the system store's new version
      const { changed } = await deps.stores.changeBuiltin(
        SYSTEM_STORE,
        { add: [['g', subjectOf(owner), role]] },
        callerLabel(caller),
        reason ?? `grant ${role}`,
        undefined,
        (version) => [
          {
            action: 'admin.role_granted',
            outcome: 'success',
            actor: callerLabel(caller),
            target: subjectOf(owner),
            details: { role, version, before: { roles: before }, after: { roles: [...before, role] } },
          },
        ],
      )
      return { changed }
    },

    /**
     * Removes a grant. The last enabled holder of `admin` cannot lose it (nor can the store lose
     * its last admin line at all: systemStoreGuard), so administration never locks itself out.
     */
    async revoke(caller: AdminCaller, owner: { type: 'user' | 'client'; id: string }, role: string, reason?: string) {
      await authority.require(caller, 'roles:grant')
      checkRole(role)
      const before = await grantsOf(subjectOf(owner))
      if (!before.includes(role)) return { changed: false }
      if (role === 'admin' && owner.type === 'user') await authority.keepsAnAdmin([owner.id])
      await deps.stores.changeBuiltin(
        SYSTEM_STORE,
        { remove: [['g', subjectOf(owner), role]] },
        callerLabel(caller),
        reason ?? `revoke ${role}`,
        undefined,
        (version) => [
          {
            action: 'admin.role_revoked',
            outcome: 'success',
            actor: callerLabel(caller),
            target: subjectOf(owner),
            details: { role, version, before: { roles: before }, after: { roles: before.filter((r) => r !== role) } },
          },
        ],
      )
      return { changed: true }
    },

    /** Refuses (409 `last_admin`) when no enabled admin would remain without these users. */
    async keepsAnAdmin(without: string[]) {
      const admins = (await grantLines(deps)).filter((l) => l[2] === 'admin' && l[1]?.startsWith('user:'))
      if (!admins.some((l) => without.includes(l[1]!.slice(5)))) return // they hold no admin grant
      const remaining = (await authority.activeAdmins()).filter((id) => !without.includes(id))
      if (!remaining.length)
        throw adminError(
          'last_admin',
          'this would leave no enabled user with the admin role; grant admin to someone else first',
        )
    },

    /** Every grant of a user or client goes (the user or client is being deleted). */
    async revokeAll(caller: AdminCaller, owner: { type: 'user' | 'client'; id: string }, reason: string) {
      const roles = await grantsOf(subjectOf(owner))
      if (!roles.length) return []
      if (roles.includes('admin') && owner.type === 'user') await authority.keepsAnAdmin([owner.id])
      await deps.stores.changeBuiltin(
        SYSTEM_STORE,
        { remove: roles.map((r) => ['g', subjectOf(owner), r]) },
        callerLabel(caller),
        reason,
      )
      return roles
    },
  }
  return authority
}
export type AdminAuthority = ReturnType<typeof adminAuthority>
