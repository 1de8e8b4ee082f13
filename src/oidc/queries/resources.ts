import type { Db } from '../../db/client.ts'

/** What the import document says about one scope of a resource beyond its name. */
export interface ScopeDetail {
  description?: string
  /** the user roles that hold this scope (none: no user holds it) */
  roles: string[]
}

export interface ResourceRow {
  indicator: string
  scopes: string[]
  /** details of the scopes that have any (a scope without an entry is held by no user) */
  scopeDetails: Record<string, ScopeDetail>
  accessTokenFormat: 'jwt' | 'opaque'
  accessTokenTtl: number
}

/** The stored JSON, read defensively: anything malformed counts as "no roles". */
function parseDetails(text: string, scopes: string[]): Record<string, ScopeDetail> {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    return {}
  }
  if (!raw || typeof raw !== 'object') return {}
  const out: Record<string, ScopeDetail> = {}
  for (const s of scopes) {
    const d = (raw as Record<string, unknown>)[s]
    if (!d || typeof d !== 'object') continue
    const { description, roles } = d as { description?: unknown; roles?: unknown }
    out[s] = {
      ...(typeof description === 'string' ? { description } : {}),
      roles: Array.isArray(roles) ? roles.filter((r): r is string => typeof r === 'string') : [],
    }
  }
  return out
}

const toRow = (r: { indicator: string; scopes: string; scopeDetails: string; accessTokenFormat: string; accessTokenTtl: number }): ResourceRow => {
  const scopes = r.scopes.split(' ').filter(Boolean)
  return {
    indicator: r.indicator,
    scopes,
    scopeDetails: parseDetails(r.scopeDetails, scopes),
    accessTokenFormat: r.accessTokenFormat === 'opaque' ? 'opaque' : 'jwt',
    accessTokenTtl: r.accessTokenTtl,
  }
}

export function resourceQueries(db: Db) {
  return {
    async find(indicator: string) {
      const r = await db.resource.findUnique({ where: { indicator } })
      return r ? toRow(r) : null
    },
    async list() {
      return (await db.resource.findMany({ orderBy: { indicator: 'asc' } })).map(toRow)
    },
    /** Creates or replaces a resource; `scopeDetails` omitted means "no details" (held by nobody). */
    async upsert(r: Omit<ResourceRow, 'scopeDetails'> & { scopeDetails?: Record<string, ScopeDetail> }) {
      const data = { scopes: r.scopes.join(' '), scopeDetails: JSON.stringify(r.scopeDetails ?? {}), accessTokenFormat: r.accessTokenFormat, accessTokenTtl: r.accessTokenTtl }
      await db.resource.upsert({ where: { indicator: r.indicator }, create: { indicator: r.indicator, ...data }, update: data })
    },
  }
}
export type ResourceQueries = ReturnType<typeof resourceQueries>
