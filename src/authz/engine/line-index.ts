import type { IndexPlan, RoleKey } from './matcher-analysis.ts'

type Line = readonly string[]

interface Bucket {
  /** line positions in policy order */
  lines: number[]
  /** the same lines by the value of the first role field, once the bucket is large */
  byRole?: Map<string, number[]>
}

export interface LineIndex {
  /**
   * Positions (ascending, i.e. in casbin's evaluation order) of every line that can satisfy the
   * indexed conditions — a superset of the lines the matcher accepts, never fewer. `roleNames()`
   * gives the role closure for each of `plan.roles`; it is called only when some line has the
   * equality values, since resolving roles is the costlier step.
   */
  candidates(equalityValues: readonly string[], roleNames: () => readonly ReadonlySet<string>[]): readonly number[]
  readonly buckets: number
}

const SEPARATOR = '\u0000'
/** below this many lines a bucket is filtered by scanning; above, it is split by role */
const SPLIT_AT = 8
const NONE: readonly number[] = Object.freeze([])

// g() reads its arguments as (arg || '').toString(), so a missing policy value is the role ''
const roleValue = (line: Line, key: RoleKey) => line[key.pIndex] || ''

/**
 * Lines grouped by the values of their equality-indexed fields (one composite key), and within
 * a large group by their first role field. A composite key may in theory collide (values holding
 * the separator); that only adds candidates, which the full matcher then rejects.
 */
export function buildLineIndex(policy: readonly Line[], plan: IndexPlan): LineIndex {
  const eq = plan.equalities.map((k) => k.pIndex)
  const roles = plan.roles
  const buckets = new Map<string, Bucket>()

  policy.forEach((line, i) => {
    let key = ''
    for (let k = 0; k < eq.length; k++) {
      const v = line[eq[k]!]
      // a missing value never equals a (string) request value
      if (v === undefined) return
      key = k === 0 ? v : key + SEPARATOR + v
    }
    let bucket = buckets.get(key)
    if (!bucket) buckets.set(key, (bucket = { lines: [] }))
    bucket.lines.push(i)
  })

  const firstRole = roles[0]
  if (firstRole) {
    for (const bucket of buckets.values()) {
      if (bucket.lines.length < SPLIT_AT) continue
      bucket.byRole = new Map()
      for (const i of bucket.lines) {
        const v = roleValue(policy[i]!, firstRole)
        const list = bucket.byRole.get(v)
        if (list) list.push(i)
        else bucket.byRole.set(v, [i])
      }
    }
  }

  function byFirstRole(bucket: Bucket, names: ReadonlySet<string>): readonly number[] {
    const split = bucket.byRole
    if (!split) return bucket.lines.filter((i) => names.has(roleValue(policy[i]!, firstRole!)))
    const parts: number[][] = []
    if (names.size <= split.size) {
      for (const name of names) {
        const part = split.get(name)
        if (part) parts.push(part)
      }
    } else {
      for (const [name, part] of split) if (names.has(name)) parts.push(part)
    }
    if (parts.length <= 1) return parts[0] ?? NONE
    return parts.flat().sort((a, b) => a - b)
  }

  return {
    buckets: buckets.size,
    candidates(equalityValues, roleNames) {
      const key = equalityValues.length === 1 ? equalityValues[0]! : equalityValues.join(SEPARATOR)
      const bucket = buckets.get(key)
      if (!bucket) return NONE
      if (!firstRole) return bucket.lines
      const closures = roleNames()
      let out = byFirstRole(bucket, closures[0]!)
      for (let k = 1; k < roles.length && out.length; k++) {
        const names = closures[k]!
        const role = roles[k]!
        out = out.filter((i) => names.has(roleValue(policy[i]!, role)))
      }
      return out
    },
  }
}
