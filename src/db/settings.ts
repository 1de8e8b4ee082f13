import type { Db } from './client.ts'
import { audited, type Audited } from './audited.ts'

/** Small named values the server keeps for itself (bootstrap markers, versions). */
export function settingQueries(db: Db) {
  return {
    async get(key: string) {
      return (await db.setting.findUnique({ where: { key } }))?.value ?? null
    },
    /** With `audit`, the value and its audit record commit together (audited.ts). */
    async set(key: string, value: string, audit?: Audited<void>) {
      if (!audit) return void (await db.setting.upsert({ where: { key }, create: { key, value }, update: { value } }))
      await audited(
        db,
        audit,
        async (tx) => void (await tx.setting.upsert({ where: { key }, create: { key, value }, update: { value } })),
      )
    },
    /** Inserts only if absent; true when this call created it (first start wins). */
    async claim(key: string, value: string) {
      try {
        await db.setting.create({ data: { key, value } })
        return true
      } catch {
        return false
      }
    },
  }
}
export type SettingQueries = ReturnType<typeof settingQueries>
