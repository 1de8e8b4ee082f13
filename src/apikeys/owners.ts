import { AppError } from '../errors.ts'
import { API_SCOPE_NAMES } from '../oidc/api-resource.ts'
import type { UserService } from '../identity/users.ts'
import type { ClientService } from '../oidc/clients.ts'

type ClientFinder = Pick<ClientService, 'find'>
import type { ResourceQueries } from '../oidc/queries/resources.ts'
import type { OwnerType } from './queries.ts'

export interface OwnerRef { type: OwnerType; id: string }
export interface OwnerInfo {
  /** user exists and is not disabled / client is registered */
  active: boolean
  /** policy stores a client is limited to (its authz_stores) */
  stores?: string[]
  /** display name: email or client id */
  label: string
}

export const ownerString = (o: OwnerRef) => `${o.type}:${o.id}`

/**
 * Who may own keys, and which scopes an owner's keys may carry: a key never has more rights
 * than its owner.
 * - A service account (client) may give its keys the scopes in its registered `scope`.
 * - A user may give their keys the portcullis API scopes their roles name (role `admin` grants
 *   every API scope, a role named like a scope, e.g. `authz:check`, grants that one) and any
 *   scope of a registered API resource (the resource server decides per `sub`, as it would for
 *   an OAuth token the user consented to).
 */
export function ownerDirectory(deps: { users: UserService; clients: ClientFinder; resources: ResourceQueries }) {
  /** Every scope the owner may give its keys: a client's registered scopes; a user's API scopes by role, and resource scopes. */
  async function grantableScopes(o: OwnerRef): Promise<string[]> {
    if (o.type === 'client') {
      const c = await deps.clients.find(o.id)
      return typeof c?.metadata.scope === 'string' ? c.metadata.scope.split(' ').filter(Boolean) : []
    }
    const u = await deps.users.findById(o.id)
    const roles = new Set(u?.roles ?? [])
    const resourceScopes = (await deps.resources.list()).flatMap((r) => r.scopes)
    return [...new Set([...API_SCOPE_NAMES.filter((s) => roles.has('admin') || roles.has(s)), ...resourceScopes])]
  }

  return {
    /** "user:<id or email>" | "client:<client_id>" -> a known owner, or a 404/400. */
    async resolve(ref: string): Promise<OwnerRef> {
      const m = /^(user|client):(.+)$/.exec(ref)
      if (!m) throw new AppError('invalid_request', 'owner must be "user:<id or email>" or "client:<client_id>"', { status: 400 })
      if (m[1] === 'client') {
        if (!(await deps.clients.find(m[2]!))) throw new AppError('not_found', `no client ${m[2]}`, { status: 404 })
        return { type: 'client', id: m[2]! }
      }
      const user = m[2]!.includes('@') ? await deps.users.findByEmail(m[2]!) : await deps.users.findById(m[2]!)
      if (!user) throw new AppError('not_found', `no user ${m[2]}`, { status: 404 })
      return { type: 'user', id: user.id }
    },
    async info(o: OwnerRef): Promise<OwnerInfo> {
      if (o.type === 'client') {
        const c = await deps.clients.find(o.id)
        const stores = c?.metadata.authz_stores
        return { active: Boolean(c), label: o.id, stores: Array.isArray(stores) ? (stores as string[]) : undefined }
      }
      const u = await deps.users.findById(o.id)
      return { active: Boolean(u && !u.disabled), label: u?.email ?? o.id }
    },
    grantableScopes,
    /** Scopes of `requested` the owner may not give its keys (empty = all fine). */
    async excessScopes(o: OwnerRef, requested: readonly string[]): Promise<string[]> {
      const allowed = new Set(await grantableScopes(o))
      return requested.filter((s) => !allowed.has(s))
    },
  }
}
export type OwnerDirectory = ReturnType<typeof ownerDirectory>
