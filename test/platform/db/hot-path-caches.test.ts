import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { lookupCache } from '../../../src/db/lookup-cache.ts'
import { reusePreparedStatements } from '../../../src/db/client.ts'

describe('lookupCache (issue 16 §1)', () => {
  it('loads a key once, misses included, until cleared', async () => {
    const loads: string[] = []
    const cache = lookupCache(async (k) => {
      loads.push(k)
      return k === 'known' ? { k } : null
    })
    expect(await cache.get('known')).toEqual({ k: 'known' })
    expect(await cache.get('known')).toEqual({ k: 'known' })
    expect(await cache.get('unknown')).toBeNull()
    expect(await cache.get('unknown')).toBeNull()
    expect(loads).toEqual(['known', 'unknown'])
    cache.clear()
    await cache.get('known')
    expect(loads).toEqual(['known', 'unknown', 'known'])
  })

  it('does not keep a failed load, and stays within its bound', async () => {
    let fail = true
    const cache = lookupCache(
      async (k) => {
        if (fail) throw new Error('database down')
        return k
      },
      { max: 3 },
    )
    await expect(cache.get('a')).rejects.toThrow('database down')
    fail = false
    expect(await cache.get('a')).toBe('a')
    for (const k of ['b', 'c', 'd', 'e']) await cache.get(k)
    expect(cache.size).toBe(3)
  })

  it('a load that was in flight when the cache was cleared is not kept', async () => {
    let release!: (v: string) => void
    let n = 0
    const cache = lookupCache((k) =>
      n++ === 0
        ? new Promise<string>((r) => {
            release = r
          })
        : Promise.resolve(`${k}-new`),
    )
    const old = cache.get('x')
    cache.clear()
    release('x-old')
    expect(await old).toBe('x-old')
    expect(await cache.get('x')).toBe('x-new')
  })
})

describe('reusePreparedStatements', () => {
  it('compiles one statement per SQL text and binds fresh arguments on every use, as the Prisma adapter calls it', () => {
    const db = new Database(':memory:')
    let compiled = 0
    const prepare = db.prepare.bind(db)
    db.prepare = ((sql: string) => {
      compiled++
      return prepare(sql)
    }) as typeof db.prepare
    reusePreparedStatements(db as never)
    const p = db.prepare as unknown as (sql: string) => {
      bind(a: unknown[]): { reader: boolean; run(): { changes: number }; raw(): { all(): unknown[][] } }
      run(): unknown
    }
    p('CREATE TABLE t (id INTEGER, name TEXT)').run()
    for (const [id, name] of [
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
    ] as const) {
      const s = p('INSERT INTO t (id, name) VALUES (?, ?)').bind([id, name])
      expect(s.reader).toBe(false)
      expect(s.run().changes).toBe(1)
    }
    const read = (id: number) => p('SELECT name FROM t WHERE id = ?').bind([id]).raw().all()
    expect(read(2)).toEqual([['b']])
    expect(read(3)).toEqual([['c']])
    expect(read(9)).toEqual([])
    expect(compiled).toBe(3)
    db.close()
  })
})
