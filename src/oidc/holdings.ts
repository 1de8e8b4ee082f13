import { API_SCOPES, API_SCOPE_NAMES, type ApiScope } from './api-resource.ts'
export { isManagementScope } from './api-resource.ts'
import type { ResourceQueries } from './queries/resources.ts'

/**
 * Which user roles hold which portcullis API scope — the one place this mapping lives (README
 * "API keys", "Which scopes a user holds"). Nobody holds one by default; role `admin` holds
 * every API scope, and a role named exactly like a scope (e.g. `audit:read`) holds that one, so
 * an administrator can hand out a single scope without full administration.
 */
export const API_SCOPE_ROLES: Readonly<Record<ApiScope, readonly string[]>> = Object.freeze({
  admin: ['admin'],
  'authz:admin': ['admin', 'authz:admin'],
  'authz:check': ['admin', 'authz:check'],
  'apikeys:admin': ['admin', 'apikeys:admin'],
  'apikeys:manage': ['admin', 'apikeys:manage'],
  'apikeys:verify': ['admin', 'apikeys:verify'],
  'audit:read': ['admin', 'audit:read'],
  'ssf:stream': ['admin', 'ssf:stream'],
})

/** The scopes someone holds, per resource indicator, and all of them by name. */
export interface Holdings {
  /** resource indicator -> the scopes held there */
  byResource: Map<string, Set<string>>
  /** every scope name held at some resource */
  all: Set<string>
  /** what each held scope lets a key or token do (the import document's `description`) */
  descriptions: Map<string, string>
}

/**
 * What a user's roles let them hold (issue 10 §1, DESIGN.md "Authority"): portcullis API scopes
 * through API_SCOPE_ROLES, and a registered resource's scope only when the import document names
 * one of the user's roles on it (`scopes: [{ name, roles }]`). A plain-string scope names no
 * roles, so no user holds it. Read from the database on every call: callers cache (the API key
 * cache is dropped everywhere when roles or resources change).
 */
export function scopeHoldings(deps: { resources: Pick<ResourceQueries, 'list'>; apiIndicator: string }) {
  return async function holdingsOf(roles: readonly string[]): Promise<Holdings> {
    const mine = new Set(roles)
    const byResource = new Map<string, Set<string>>()
    const descriptions = new Map<string, string>()
    const api = API_SCOPE_NAMES.filter((s) => API_SCOPE_ROLES[s].some((r) => mine.has(r)))
    byResource.set(deps.apiIndicator, new Set(api))
    for (const s of api) descriptions.set(s, API_SCOPES[s])
    for (const r of await deps.resources.list()) {
      const held = r.scopes.filter((s) => r.scopeDetails[s]?.roles.some((role) => mine.has(role)))
      byResource.set(r.indicator, new Set(held))
      for (const s of held) {
        const d = r.scopeDetails[s]?.description
        if (d && !descriptions.has(s)) descriptions.set(s, d)
      }
    }
    const all = new Set([...byResource.values()].flatMap((s) => [...s]))
    return { byResource, all, descriptions }
  }
}
export type HoldingsOf = ReturnType<typeof scopeHoldings>

/**
 * Splits resource scopes a user is asked to consent to (oidc-provider's missingResourceScopes)
 * into those the user holds and those they do not. The refused ones are recorded as rejected in
 * the grant, so the consent prompt does not ask again and no token carries them.
 */
export function splitByHoldings(
  requested: Record<string, string[]>,
  held: Holdings,
): { granted: [string, string[]][]; refused: [string, string[]][] } {
  const granted: [string, string[]][] = []
  const refused: [string, string[]][] = []
  for (const [indicator, scopes] of Object.entries(requested)) {
    const mine = held.byResource.get(indicator) ?? new Set<string>()
    const yes = scopes.filter((s) => mine.has(s))
    const no = scopes.filter((s) => !mine.has(s))
    if (yes.length) granted.push([indicator, yes])
    if (no.length) refused.push([indicator, no])
  }
  return { granted, refused }
}
