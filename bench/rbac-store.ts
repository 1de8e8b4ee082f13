/**
 * A synthetic RBAC store for benchmarks: users with 1-2 roles, 100 roles in a hierarchy of
 * depth 3 (leaf roles inherit mid roles inherit top roles), each role granted permissions on
 * its own objects, padded to the requested number of lines. Deterministic (seeded).
 */
export interface RbacStore {
  lines: string[][]
  csv: string
  users: number
  roles: number
  objects: number
}

function prng(seed: number) {
  return () => {
    seed = (seed * 1664525 + 1013904223) >>> 0
    return seed / 2 ** 32
  }
}

export function buildRbacStore(targetLines: number, seed = 42): RbacStore {
  const rnd = prng(seed)
  const users = Math.max(1000, Math.round(targetLines / 10))
  const roles = Math.max(100, Math.round(targetLines / 100))
  const lines: string[][] = []
  // hierarchy: role i (i >= 10) inherits role floor(i / 10) - so depth 3 with 100 roles
  for (let r = 10; r < roles; r++) lines.push(['g', `role${r}`, `role${Math.floor(r / 10)}`])
  for (let u = 0; u < users; u++) {
    lines.push(['g', `user${u}`, `role${Math.floor(rnd() * roles)}`])
    if (rnd() < 0.3) lines.push(['g', `user${u}`, `role${Math.floor(rnd() * roles)}`])
  }
  const remaining = Math.max(0, targetLines - lines.length)
  const objects = Math.max(100, Math.round(remaining / 2))
  for (let i = 0; i < remaining; i++) {
    lines.push([
      'p',
      `role${Math.floor(rnd() * roles)}`,
      `doc${Math.floor(rnd() * objects)}`,
      rnd() < 0.5 ? 'read' : 'write',
    ])
  }
  return { lines, csv: lines.map((l) => l.join(', ')).join('\n'), users, roles, objects }
}

/** Distinct-looking random requests (users, objects and actions drawn independently). */
export function randomRequests(store: RbacStore, n: number): string[][] {
  const out: string[][] = []
  for (let i = 0; i < n; i++) {
    out.push([
      `user${Math.floor(Math.random() * store.users)}`,
      `doc${Math.floor(Math.random() * store.objects)}`,
      Math.random() < 0.5 ? 'read' : 'write',
    ])
  }
  return out
}
