import type { Db } from '../../db/client.ts'

export interface ResourceRow {
  indicator: string
  scopes: string[]
  accessTokenFormat: 'jwt' | 'opaque'
  accessTokenTtl: number
}

const toRow = (r: { indicator: string; scopes: string; accessTokenFormat: string; accessTokenTtl: number }): ResourceRow => ({
  indicator: r.indicator,
  scopes: r.scopes.split(' ').filter(Boolean),
  accessTokenFormat: r.accessTokenFormat === 'opaque' ? 'opaque' : 'jwt',
  accessTokenTtl: r.accessTokenTtl,
})

export function resourceQueries(db: Db) {
  return {
    async find(indicator: string) {
      const r = await db.resource.findUnique({ where: { indicator } })
      return r ? toRow(r) : null
    },
    async list() {
      return (await db.resource.findMany({ orderBy: { indicator: 'asc' } })).map(toRow)
    },
    async upsert(r: ResourceRow) {
      const data = { scopes: r.scopes.join(' '), accessTokenFormat: r.accessTokenFormat, accessTokenTtl: r.accessTokenTtl }
      await db.resource.upsert({ where: { indicator: r.indicator }, create: { indicator: r.indicator, ...data }, update: data })
    },
  }
}
export type ResourceQueries = ReturnType<typeof resourceQueries>
