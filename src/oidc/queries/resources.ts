import type { Db } from '../../db/client.ts'
import { audited, type Audited } from '../../db/audited.ts'

/** What the import document says about one scope of a resource beyond its name. */
export interface ScopeDetail {
  description?: string
  /** the description in other languages (language tag -> text), shown on the consent page */
  descriptions?: Record<string, string>
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
  /** JWS alg of its JWT access tokens (issue 16 §1) */
  accessTokenSigningAlg: AccessTokenSigningAlg
}

/** The algorithms a resource may sign its JWT access tokens with; ES256 is the default. */
export const ACCESS_TOKEN_SIGNING_ALGS = ['ES256', 'EdDSA', 'RS256'] as const
export type AccessTokenSigningAlg = (typeof ACCESS_TOKEN_SIGNING_ALGS)[number]
const isAlg = (v: string): v is AccessTokenSigningAlg => (ACCESS_TOKEN_SIGNING_ALGS as readonly string[]).includes(v)

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
    const { description, descriptions, roles } = d as { description?: unknown; descriptions?: unknown; roles?: unknown }
    const translated =
      descriptions && typeof descriptions === 'object'
        ? Object.fromEntries(
            Object.entries(descriptions).filter((e): e is [string, string] => typeof e[1] === 'string'),
          )
        : {}
    out[s] = {
      ...(typeof description === 'string' ? { description } : {}),
      ...(Object.keys(translated).length ? { descriptions: translated } : {}),
      roles: Array.isArray(roles) ? roles.filter((r): r is string => typeof r === 'string') : [],
    }
  }
  return out
}

const toRow = (r: {
  indicator: string
  scopes: string
  scopeDetails: string
  accessTokenFormat: string
  accessTokenTtl: number
  accessTokenSigningAlg: string
}): ResourceRow => {
  const scopes = r.scopes.split(' ').filter(Boolean)
  return {
    indicator: r.indicator,
    scopes,
    scopeDetails: parseDetails(r.scopeDetails, scopes),
    accessTokenFormat: r.accessTokenFormat === 'opaque' ? 'opaque' : 'jwt',
    accessTokenTtl: r.accessTokenTtl,
    accessTokenSigningAlg: isAlg(r.accessTokenSigningAlg) ? r.accessTokenSigningAlg : 'ES256',
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
    /** Deletes a resource; false when there was none. With `audit`, the record commits with it (db/audited.ts). */
    remove(indicator: string, audit?: Audited<boolean>) {
      return audited(db, audit, async (tx) => (await tx.resource.deleteMany({ where: { indicator } })).count === 1)
    },
    /** The stored row's timestamps (the admin API's ETag covers updatedAt). */
    async stamps(indicator: string) {
      return db.resource.findUnique({ where: { indicator }, select: { createdAt: true, updatedAt: true } })
    },
    /** Creates or replaces a resource; `scopeDetails` omitted means "no details" (held by nobody). */
    /** Returns the row as stored; with `audit`, its record commits with it (db/audited.ts). */
    upsert(
      r: Omit<ResourceRow, 'scopeDetails' | 'accessTokenSigningAlg'> & {
        scopeDetails?: Record<string, ScopeDetail>
        accessTokenSigningAlg?: AccessTokenSigningAlg
      },
      audit?: Audited<ResourceRow>,
    ) {
      const data = {
        scopes: r.scopes.join(' '),
        scopeDetails: JSON.stringify(r.scopeDetails ?? {}),
        accessTokenFormat: r.accessTokenFormat,
        accessTokenTtl: r.accessTokenTtl,
        accessTokenSigningAlg: r.accessTokenSigningAlg ?? 'ES256',
      }
      return audited(db, audit, async (tx) =>
        toRow(
          await tx.resource.upsert({
            where: { indicator: r.indicator },
            create: { indicator: r.indicator, ...data },
            update: data,
          }),
        ),
      )
    },
  }
}
export type ResourceQueries = ReturnType<typeof resourceQueries>
