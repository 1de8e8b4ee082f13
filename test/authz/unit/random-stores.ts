import fs from 'node:fs'
import path from 'node:path'
import type { EngineOptions } from '../../../src/authz/engine/index.ts'

/** mulberry32: small, fast and seeded, so a failing store can be rebuilt from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export type Rnd = () => number
export const pick = <T>(rnd: Rnd, items: readonly T[]): T => items[Math.floor(rnd() * items.length)]!
export const int = (rnd: Rnd, min: number, max: number) => min + Math.floor(rnd() * (max - min + 1))
const times = <T>(n: number, f: () => T): T[] => Array.from({ length: n }, f)
const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`)

/** A model shape: its text and how to draw random stores and requests for it. */
export interface Shape {
  name: string
  model: string
  options?: EngineOptions
  lines(rnd: Rnd): string[][]
  request(rnd: Rnd): unknown[]
}

const model = (r: string, p: string, g: string[], e: string, m: string) =>
  [
    `[request_definition]\nr = ${r}`,
    `[policy_definition]\np = ${p}`,
    g.length ? `[role_definition]\n${g.join('\n')}` : '',
    `[policy_effect]\ne = ${e}`,
    `[matchers]\nm = ${m}`,
  ].join('\n\n')

const ALLOW = 'some(where (p.eft == allow))'
const DENY = '!some(where (p.eft == deny))'
const ALLOW_AND_DENY = 'some(where (p.eft == allow)) && !some(where (p.eft == deny))'
const PRIORITY = 'priority(p.eft) || deny'
const RBAC_MATCHER = 'g(r.sub, p.sub) && r.obj == p.obj && r.act == p.act'

const users = names('u', 12)
const roles = names('role', 6)
const objects = names('data', 8)
const fewObjects = objects.slice(0, 3)
const actions = ['read', 'write', 'delete']
const domains = names('dom', 3)
const effects = ['allow', 'deny']

/** requests reach unknown names too, and the empty string */
const someone = (rnd: Rnd) =>
  rnd() < 0.08 ? pick(rnd, ['', 'nobody']) : rnd() < 0.2 ? pick(rnd, roles) : pick(rnd, users)
const something = (rnd: Rnd) => (rnd() < 0.05 ? pick(rnd, ['', 'data99']) : pick(rnd, objects))

/** user -> role links, some role -> role links (cycles included), some self links */
function roleLinks(rnd: Rnd, ptype = 'g', domain?: () => string): string[][] {
  const out: string[][] = []
  const add = (a: string, b: string) => out.push(domain ? [ptype, a, b, domain()] : [ptype, a, b])
  for (let i = int(rnd, 0, 20); i > 0; i--) add(pick(rnd, users), pick(rnd, roles))
  for (let i = int(rnd, 0, 5); i > 0; i--) add(pick(rnd, roles), pick(rnd, roles))
  if (rnd() < 0.2) add(pick(rnd, users), pick(rnd, users))
  return out
}

const grants = (rnd: Rnd, n: number, line: () => string[]) => times(int(rnd, 1, n), line)

/** users under leaf roles under mid roles under top roles */
function hierarchy(rnd: Rnd): string[][] {
  const top = names('top', 2)
  const mid = names('mid', 4)
  const leaf = names('leaf', 8)
  const out: string[][] = []
  for (const m of mid) out.push(['g', m, pick(rnd, top)])
  for (const l of leaf) out.push(['g', l, pick(rnd, mid)])
  for (const u of users) if (rnd() < 0.8) out.push(['g', u, pick(rnd, leaf)])
  const all = [...top, ...mid, ...leaf]
  out.push(...grants(rnd, 40, () => ['p', pick(rnd, all), pick(rnd, objects), pick(rnd, actions)]))
  return out
}

/** a chain of 14 roles, longer than casbin's hierarchy limit of 10 links */
function longChain(rnd: Rnd): string[][] {
  const chain = names('c', 14)
  const out: string[][] = chain.slice(1).map((c, i) => ['g', chain[i]!, c])
  for (const u of users) if (rnd() < 0.6) out.push(['g', u, pick(rnd, chain)])
  out.push(...grants(rnd, 30, () => ['p', pick(rnd, chain), pick(rnd, objects), pick(rnd, actions)]))
  return out
}

const keyPatterns = ['/a', '/a/*', '/a/b', '/b/*', '/*', '/a/b/c', '*', '/a/b*']
const keyPaths = ['/a', '/a/', '/a/b', '/a/b/c', '/b', '/b/x', '/c', '', '/a/bc']
const key2Patterns = ['/a/:id', '/a/:id/b', '/a/*', '/:x', '/a/b', '*', '/b/:x/:y']
const key2Paths = ['/a/1', '/a/1/b', '/a/b', '/b/1/2', '/x', '/a', '/a/1/c', '']
const methods = ['GET', 'POST', 'DELETE']
const methodPatterns = ['GET', 'POST', '(GET)|(POST)', '.*', '^D']

export const SHAPES: Shape[] = [
  {
    name: 'ACL',
    model: model('sub, obj, act', 'sub, obj, act', [], ALLOW, 'r.sub == p.sub && r.obj == p.obj && r.act == p.act'),
    lines: (rnd) => grants(rnd, 60, () => ['p', pick(rnd, users), pick(rnd, objects), pick(rnd, actions)]),
    request: (rnd) => [someone(rnd), something(rnd), pick(rnd, actions)],
  },
  {
    name: 'ACL with keyMatch',
    model: model(
      'sub, obj, act',
      'sub, obj, act',
      [],
      ALLOW,
      'r.sub == p.sub && keyMatch(r.obj, p.obj) && r.act == p.act',
    ),
    lines: (rnd) =>
      grants(rnd, 50, () => ['p', pick(rnd, users.slice(0, 4)), pick(rnd, keyPatterns), pick(rnd, actions)]),
    request: (rnd) => [pick(rnd, users.slice(0, 5)), pick(rnd, keyPaths), pick(rnd, actions)],
  },
  {
    name: 'ACL with keyMatch2 and regexMatch',
    model: model(
      'sub, obj, act',
      'sub, obj, act',
      [],
      ALLOW,
      'r.sub == p.sub && keyMatch2(r.obj, p.obj) && regexMatch(r.act, p.act)',
    ),
    lines: (rnd) =>
      grants(rnd, 50, () => ['p', pick(rnd, users.slice(0, 4)), pick(rnd, key2Patterns), pick(rnd, methodPatterns)]),
    request: (rnd) => [pick(rnd, users.slice(0, 5)), pick(rnd, key2Paths), pick(rnd, methods)],
  },
  {
    name: 'RBAC',
    model: model('sub, obj, act', 'sub, obj, act', ['g = _, _'], ALLOW, RBAC_MATCHER),
    lines: (rnd) => [
      ...roleLinks(rnd),
      ...grants(rnd, 50, () => ['p', pick(rnd, rnd() < 0.7 ? roles : users), pick(rnd, objects), pick(rnd, actions)]),
    ],
    request: (rnd) => [someone(rnd), something(rnd), pick(rnd, actions)],
  },
  {
    name: 'RBAC with domains',
    model: model(
      'sub, dom, obj, act',
      'sub, dom, obj, act',
      ['g = _, _, _'],
      ALLOW,
      'g(r.sub, p.sub, r.dom) && r.dom == p.dom && r.obj == p.obj && r.act == p.act',
    ),
    lines: (rnd) => [
      ...roleLinks(rnd, 'g', () => pick(rnd, domains)),
      ...grants(rnd, 60, () => [
        'p',
        pick(rnd, rnd() < 0.7 ? roles : users),
        pick(rnd, domains),
        pick(rnd, fewObjects),
        pick(rnd, actions),
      ]),
    ],
    request: (rnd) => [
      someone(rnd),
      rnd() < 0.05 ? 'dom9' : pick(rnd, domains),
      pick(rnd, fewObjects),
      pick(rnd, actions),
    ],
  },
  {
    name: 'RBAC with a role hierarchy of depth 3',
    model: model('sub, obj, act', 'sub, obj, act', ['g = _, _'], ALLOW, RBAC_MATCHER),
    lines: hierarchy,
    request: (rnd) => [
      rnd() < 0.1 ? pick(rnd, ['top0', 'mid1', 'leaf2', 'nobody']) : pick(rnd, users),
      something(rnd),
      pick(rnd, actions),
    ],
  },
  {
    name: 'RBAC with chains longer than the hierarchy limit',
    model: model('sub, obj, act', 'sub, obj, act', ['g = _, _'], ALLOW, RBAC_MATCHER),
    lines: longChain,
    request: (rnd) => [rnd() < 0.3 ? pick(rnd, names('c', 14)) : pick(rnd, users), something(rnd), pick(rnd, actions)],
  },
  {
    name: 'deny-override (!some deny)',
    model: model('sub, obj, act', 'sub, obj, act, eft', ['g = _, _'], DENY, RBAC_MATCHER),
    lines: (rnd) => [
      ...roleLinks(rnd),
      ...grants(rnd, 40, () => [
        'p',
        pick(rnd, rnd() < 0.7 ? roles : users),
        pick(rnd, objects),
        pick(rnd, actions),
        pick(rnd, effects),
      ]),
    ],
    request: (rnd) => [someone(rnd), something(rnd), pick(rnd, actions)],
  },
  {
    name: 'allow-and-deny',
    model: model('sub, obj, act', 'sub, obj, act, eft', ['g = _, _'], ALLOW_AND_DENY, RBAC_MATCHER),
    lines: (rnd) => [
      ...roleLinks(rnd),
      ...grants(rnd, 40, () => [
        'p',
        pick(rnd, rnd() < 0.7 ? roles : users),
        pick(rnd, objects),
        pick(rnd, actions),
        pick(rnd, effects),
      ]),
    ],
    request: (rnd) => [someone(rnd), something(rnd), pick(rnd, actions)],
  },
  {
    name: 'priority',
    model: model('sub, obj, act', 'priority, sub, obj, act, eft', ['g = _, _'], PRIORITY, RBAC_MATCHER),
    lines: (rnd) => [
      ...roleLinks(rnd),
      ...grants(rnd, 40, () => [
        'p',
        String(int(rnd, 1, 5)),
        pick(rnd, rnd() < 0.7 ? roles : users),
        pick(rnd, objects),
        pick(rnd, actions),
        pick(rnd, effects),
      ]),
    ],
    request: (rnd) => [someone(rnd), something(rnd), pick(rnd, actions)],
  },
  {
    // large candidate groups (split by role) whose parts must be merged back into policy order
    name: 'priority with keyMatch',
    model: model(
      'sub, obj, act',
      'priority, sub, obj, act, eft',
      ['g = _, _'],
      PRIORITY,
      'g(r.sub, p.sub) && keyMatch(r.obj, p.obj) && r.act == p.act',
    ),
    lines: (rnd) => [
      ...roleLinks(rnd),
      ...grants(rnd, 80, () => [
        'p',
        String(int(rnd, 1, 5)),
        pick(rnd, roles),
        pick(rnd, keyPatterns),
        pick(rnd, actions.slice(0, 2)),
        pick(rnd, effects),
      ]),
    ],
    request: (rnd) => [someone(rnd), pick(rnd, keyPaths), pick(rnd, actions.slice(0, 2))],
  },
  {
    name: 'RBAC with resource roles',
    model: model(
      'sub, obj, act',
      'sub, obj, act',
      ['g = _, _', 'g2 = _, _'],
      ALLOW,
      'g(r.sub, p.sub) && g2(r.obj, p.obj) && r.act == p.act',
    ),
    lines: (rnd) => [
      ...roleLinks(rnd),
      ...times(int(rnd, 0, 10), () => ['g2', pick(rnd, objects), pick(rnd, ['docs', 'logs', 'all'])]),
      ...grants(rnd, 40, () => [
        'p',
        pick(rnd, roles),
        pick(rnd, [...objects, 'docs', 'logs', 'all']),
        pick(rnd, actions),
      ]),
    ],
    request: (rnd) => [someone(rnd), something(rnd), pick(rnd, actions)],
  },
  {
    name: 'RESTful RBAC with pattern roles (keyMatch2)',
    model: model(
      'sub, obj, act',
      'sub, obj, act',
      ['g = _, _', 'g2 = _, _'],
      ALLOW,
      'g(r.sub, p.sub) && g2(r.obj, p.obj) && regexMatch(r.act, p.act)',
    ),
    options: { named_matching_func: { g2: 'keyMatch2' } },
    lines: (rnd) => [
      ...roleLinks(rnd),
      ...times(int(rnd, 0, 8), () => ['g2', pick(rnd, key2Patterns), pick(rnd, ['books', 'pens'])]),
      ...grants(rnd, 30, () => [
        'p',
        pick(rnd, roles),
        pick(rnd, ['books', 'pens', ...key2Paths.slice(0, 3)]),
        pick(rnd, methodPatterns),
      ]),
    ],
    request: (rnd) => [someone(rnd), pick(rnd, key2Paths), pick(rnd, methods)],
  },
  {
    name: 'RBAC with domain patterns (keyMatch)',
    model: model(
      'sub, dom, obj, act',
      'sub, dom, obj, act',
      ['g = _, _, _'],
      ALLOW,
      'g(r.sub, p.sub, r.dom) && r.dom == p.dom && r.obj == p.obj && r.act == p.act',
    ),
    options: { named_domain_matching_func: { g: 'keyMatch' } },
    lines: (rnd) => [
      ...roleLinks(rnd, 'g', () => pick(rnd, [...domains, '*', 'dom*'])),
      ...grants(rnd, 60, () => ['p', pick(rnd, roles), pick(rnd, domains), pick(rnd, fewObjects), pick(rnd, actions)]),
    ],
    request: (rnd) => [someone(rnd), pick(rnd, domains), pick(rnd, fewObjects), pick(rnd, actions)],
  },
  {
    name: 'RBAC with a residual || condition',
    model: model(
      'sub, obj, act',
      'sub, obj, act',
      ['g = _, _'],
      ALLOW,
      'g(r.sub, p.sub) && r.obj == p.obj && (r.act == p.act || p.act == "*")',
    ),
    lines: (rnd) => [
      ...roleLinks(rnd),
      ...grants(rnd, 40, () => ['p', pick(rnd, roles), pick(rnd, objects), pick(rnd, [...actions, '*'])]),
    ],
    request: (rnd) => [someone(rnd), something(rnd), pick(rnd, actions)],
  },
  {
    name: 'ACL with a superuser alternative, allow-and-deny',
    model: model(
      'sub, obj, act',
      'sub, obj, act, eft',
      [],
      ALLOW_AND_DENY,
      'r.sub == p.sub && r.obj == p.obj && r.act == p.act || r.sub == "root"',
    ),
    lines: (rnd) =>
      grants(rnd, 60, () => [
        'p',
        pick(rnd, [...users.slice(0, 6), 'root']),
        pick(rnd, fewObjects),
        pick(rnd, actions),
        pick(rnd, effects),
      ]),
    request: (rnd) => [pick(rnd, [...users.slice(0, 6), 'root']), pick(rnd, fewObjects), pick(rnd, actions)],
  },
  {
    name: 'RBAC with an admin-role alternative first',
    model: model(
      'sub, obj, act',
      'sub, obj, act',
      ['g = _, _'],
      ALLOW,
      'g(r.sub, "admin") || g(r.sub, p.sub) && r.obj == p.obj && r.act == p.act',
    ),
    lines: (rnd) => [
      ...roleLinks(rnd),
      ...times(int(rnd, 0, 2), () => ['g', pick(rnd, [...users, ...roles]), 'admin']),
      ...grants(rnd, 50, () => ['p', pick(rnd, roles), pick(rnd, objects), pick(rnd, actions)]),
    ],
    request: (rnd) => [someone(rnd), something(rnd), pick(rnd, actions)],
  },
  {
    name: 'ABAC with attribute paths (policies/abac.conf)',
    model: fs.readFileSync(path.resolve(import.meta.dirname, '../../../policies/abac.conf'), 'utf8'),
    lines: (rnd) => grants(rnd, 60, () => ['p', pick(rnd, users), pick(rnd, fewObjects), pick(rnd, actions)]),
    request: (rnd) => [
      rnd() < 0.05 ? pick(rnd, [{}, 'u1', { id: 7 }, null]) : { id: pick(rnd, users) },
      { id: pick(rnd, fewObjects), owner: pick(rnd, [...users, 'nobody', 'nobody2']) },
      rnd() < 0.03 ? 'read' : { name: pick(rnd, actions) },
    ],
  },
  {
    name: 'ACL with JSON requests',
    model: model('sub, obj, act', 'sub, obj, act', [], ALLOW, 'r.sub == p.sub && r.obj == p.obj && r.act == p.act'),
    options: { accept_json_request: true },
    lines: (rnd) =>
      grants(rnd, 40, () => ['p', pick(rnd, ['u0', 'u1', '1', 'true']), pick(rnd, fewObjects), pick(rnd, actions)]),
    // JSON text of a string is indexed; numbers and booleans compare loosely and go to enforce()
    request: (rnd) => [
      pick(rnd, ['u0', 'u1', '"u1"', '1', 'true', '"1"']),
      pick(rnd, [...fewObjects, '"data1"']),
      pick(rnd, actions),
    ],
  },
]
