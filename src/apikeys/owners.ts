import { AppError } from '../errors.ts'
import type { UserService } from '../identity/users.ts'
import type { ClientService } from '../oidc/clients.ts'
import type { HoldingsOf } from '../oidc/holdings.ts'
import type { OwnerType } from './queries.ts'

type ClientFinder = Pick<ClientService, 'find'>

export interface OwnerRef {
  type: OwnerType
  id: string
}
export interface OwnerInfo {
  /** user exists and is not disabled / client is registered */
  active: boolean
  /** policy stores a client is limited to (its authz_stores) */
  stores?: string[]
  /** display name: email or client id */
  label: string
  /** every scope the owner holds now: a key carries only these of its own scopes */
  scopes: Set<string>
  /** a user's scopes per resource indicator (a client's registered scopes apply everywhere) */
  byResource?: Map<string, Set<string>>
}

export const ownerString = (o: OwnerRef) => `${o.type}:${o.id}`

/**
 * Who may own keys, and which scopes an owner holds — a key never has more rights than its
 * owner, when it is issued and every time it is used (issue 10 §1):
 * - a service account (client) holds the scopes in its registered `scope`;
 * - a user holds what their roles give them (oidc/holdings.ts): portcullis API scopes through
 *   API_SCOPE_ROLES, a resource's scope only where the import document names one of their roles.
 */
export function ownerDirectory(deps: {
  users: UserService
  clients: ClientFinder
  /**
   * The in-memory client lookup the token endpoint uses (db/lookup-cache.ts), for `info` on
   * every API key cache miss; `resolve` reads the table itself, so a client created a moment ago
   * on another instance is found.
   */
  cachedClients?: ClientFinder
  holdings: HoldingsOf
}) {
  const hotClients = deps.cachedClients ?? deps.clients
  async function clientScopes(id: string) {
    const c = await hotClients.find(id)
    return {
      client: c,
      scopes: new Set(typeof c?.metadata.scope === 'string' ? c.metadata.scope.split(' ').filter(Boolean) : []),
    }
  }

  /** Every scope the owner may give its keys now (sorted). */
  async function grantableScopes(o: OwnerRef): Promise<string[]> {
    if (o.type === 'client') return [...(await clientScopes(o.id)).scopes].sort()
    const u = await deps.users.findById(o.id)
    return [...(await deps.holdings(u?.roles ?? [])).all].sort()
  }

  return {
    /** "user:<id or email>" | "client:<client_id>" -> a known owner, or a 404/400. */
    async resolve(ref: string): Promise<OwnerRef> {
      const m = /^(user|client):(.+)$/.exec(ref)
      if (!m)
        throw new AppError('invalid_request', 'owner must be "user:<id or email>" or "client:<client_id>"', {
          status: 400,
        })
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
        const { client: c, scopes } = await clientScopes(o.id)
        const stores = c?.metadata.authz_stores
        return {
          active: Boolean(c),
          label: o.id,
          scopes,
          stores: Array.isArray(stores) ? (stores as string[]) : undefined,
        }
      }
      const u = await deps.users.findById(o.id)
      const h = await deps.holdings(u?.roles ?? [])
      return { active: Boolean(u && !u.disabled), label: u?.email ?? o.id, scopes: h.all, byResource: h.byResource }
    },
    grantableScopes,
    /** A user's held scopes with what each allows (the account page's choices); a client's without. */
    async describedScopes(o: OwnerRef): Promise<{ name: string; description?: string }[]> {
      if (o.type === 'client') return (await grantableScopes(o)).map((name) => ({ name }))
      const u = await deps.users.findById(o.id)
      const h = await deps.holdings(u?.roles ?? [])
      return [...h.all]
        .sort()
        .map((name) => ({ name, ...(h.descriptions.has(name) ? { description: h.descriptions.get(name)! } : {}) }))
    },
    /** Scopes of `requested` the owner may not give its keys (empty = all fine). */
    async excessScopes(o: OwnerRef, requested: readonly string[]): Promise<string[]> {
      const allowed = new Set(await grantableScopes(o))
      return requested.filter((s) => !allowed.has(s))
    },
  }
}
export type OwnerDirectory = ReturnType<typeof ownerDirectory>
