/**
 * An in-memory cache of lookups by key (a client's row, a resource's row) for the hot paths
 * (issue 16 §1): the token and introspection endpoints read the same few rows on every request.
 * It is correct only together with an invalidation: the writer clears it (`clear()` after a
 * local write) and every other instance clears it on the change notice (db/change-notice.ts:
 * Redis pub/sub, or a poll of the settings table). `maxAgeMs` is the safety net for a write that
 * announced nothing (a row edited by hand): no entry is older than that.
 *
 * Misses are cached too ("no such client" is the common answer to a guessed client_id), so the
 * size is bounded: past `max` entries the oldest goes. A failed load is not cached.
 */
export function lookupCache<V>(load: (key: string) => Promise<V>, opts: { max?: number; maxAgeMs?: number } = {}) {
  const max = opts.max ?? 10_000
  const maxAgeMs = opts.maxAgeMs ?? 60_000
  let entries = new Map<string, { at: number; value: Promise<V> }>()
  return {
    get(key: string): Promise<V> {
      const now = Date.now()
      const hit = entries.get(key)
      if (hit && now - hit.at < maxAgeMs) return hit.value
      const value = load(key)
      const entry = { at: now, value }
      entries.delete(key)
      entries.set(key, entry)
      if (entries.size > max) entries.delete(entries.keys().next().value!)
      // Only this entry, and only if a clear() or newer load has not replaced it meanwhile.
      value.catch(() => {
        if (entries.get(key) === entry) entries.delete(key)
      })
      return value
    },
    /** Forgets everything; a load in flight answers its callers but is not kept. */
    clear() {
      entries = new Map()
    },
    get size() {
      return entries.size
    },
  }
}
export type LookupCache<V> = ReturnType<typeof lookupCache<V>>
