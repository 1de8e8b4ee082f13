/**
 * AuthZEN search (src/authz/search.ts over the indexed engine) against plain node-casbin's own
 * listing functions on the same RBAC store, in one run:
 *
 *   subject search  (who may `act` on `obj`)   vs getImplicitUsersForPermission(obj, act)
 *   resource search (what may `sub` `act` on)  vs getImplicitPermissionsForUser(sub), filtered
 *   action search   (what may `sub` do on obj) vs getImplicitPermissionsForUser(sub), filtered
 *
 *   node --import tsx bench/authz-search.ts [--sizes 10000,100000] [--queries 20] [--plain-seconds 30]
 *
 * Store: bench/rbac-store.ts. The search lists every page (1,000 results a page). node-casbin
 * runs in a worker thread, stopped after --plain-seconds per kind of search (getImplicitUsers-
 * ForPermission calls enforce() once per subject, each walking every line, so on large stores it
 * does not finish); the queries it did finish are compared with the search's answers, which must
 * be equal. Results go to bench/results/authz-search.json.
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { Worker } from 'node:worker_threads'
import { createPolicyEngine } from '../src/authz/engine/index.ts'
import { requestShape } from '../src/authz/model-info.ts'
import { searchStore, type SearchPart } from '../src/authz/search.ts'
import type { LoadedStore } from '../src/authz/registry.ts'
import { pct } from './lib.ts'
import { buildRbacStore, type RbacStore } from './rbac-store.ts'

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,100000' },
    queries: { type: 'string', default: '20' },
    'plain-seconds': { type: 'string', default: '30' },
  },
})
const sizes = values.sizes.split(',').map(Number)
const queryCount = Number(values.queries)
const plainSeconds = Number(values['plain-seconds'])
const RESULTS = path.resolve(import.meta.dirname, 'results/authz-search.json')
const MODEL = path.resolve(import.meta.dirname, '../policies/rbac.conf')
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits

interface Query {
  kind: SearchPart
  sub?: string
  obj?: string
  act?: string
}

/** Queries with answers: grant lines' (obj, act), users holding roles, objects of their grants. */
function queries(store: RbacStore, n: number): Record<SearchPart, Query[]> {
  const grants = store.lines.filter((l) => l[0] === 'p')
  const links = store.lines.filter((l) => l[0] === 'g' && l[1]!.startsWith('user'))
  const at = (i: number, xs: string[][]) => xs[(i * 7919) % xs.length]!
  const byRole = new Map<string, string[]>()
  for (const g of grants) byRole.set(g[1]!, [...(byRole.get(g[1]!) ?? []), g[2]!])
  // an object granted to a role the user holds directly, so that action searches find something
  const objectOf = (i: number) => byRole.get(at(i, links)[2]!)?.[0] ?? at(i, grants)[2]
  return {
    subject: Array.from({ length: n }, (_, i) => ({
      kind: 'subject' as const,
      obj: at(i, grants)[2],
      act: at(i, grants)[3],
    })),
    resource: Array.from({ length: n }, (_, i) => ({
      kind: 'resource' as const,
      sub: at(i, links)[1],
      act: i % 2 ? 'read' : 'write',
    })),
    action: Array.from({ length: n }, (_, i) => ({ kind: 'action' as const, sub: at(i, links)[1], obj: objectOf(i) })),
  }
}

function search(store: LoadedStore, q: Query): string[] {
  const req = {
    subject: { type: 'user', id: q.sub ?? '' },
    resource: { type: 'doc', id: q.obj ?? '' },
    action: { name: q.act ?? '' },
  }
  const out: string[] = []
  let token: string | undefined
  do {
    const page = searchStore(store, q.kind, req, { limit: 1000, ...(token ? { token } : {}) })
    out.push(...page.values)
    token = page.nextToken || undefined
  } while (token)
  return out
}

/** node-casbin's listing for each query, until done or the deadline. */
function plain(
  modelText: string,
  csv: string,
  qs: Query[],
): Promise<{ built_ms: number; done: { ms: number; values: string[] }[]; finished: boolean }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./casbin-listing-worker.mjs', import.meta.url), {
      workerData: { modelText, csv, queries: qs },
    })
    const done: { ms: number; values: string[] }[] = []
    let built = NaN
    let timer: NodeJS.Timeout | undefined
    const finish = (finished: boolean) => {
      clearTimeout(timer)
      void worker.terminate()
      resolve({ built_ms: built, done, finished })
    }
    worker.on('message', (m: { built_ms?: number; ms?: number; values?: string[]; done?: boolean }) => {
      if (m.built_ms !== undefined) {
        built = m.built_ms
        // the deadline counts listing time only, not loading the store
        timer = setTimeout(() => finish(false), plainSeconds * 1000)
      } else if (m.done) finish(true)
      else done.push({ ms: m.ms!, values: m.values! })
    })
    worker.on('error', reject)
  })
}

const summary = (ms: number[]) => ({
  queries: ms.length,
  ms_p50: round(pct(ms, 50)),
  ms_p99: round(pct(ms, 99)),
  ms_mean: round(ms.reduce((a, b) => a + b, 0) / (ms.length || 1)),
})

async function run(size: number, modelText: string) {
  const rbac = buildRbacStore(size)
  const engine = await createPolicyEngine({ modelText, policyLines: rbac.lines })
  const store: LoadedStore = {
    name: 'bench',
    version: 1,
    engine,
    shape: requestShape(modelText, rbac.lines),
    options: {},
  }
  const out: Record<string, unknown> = {}
  for (const [kind, qs] of Object.entries(queries(rbac, queryCount)) as [SearchPart, Query[]][]) {
    search(store, qs[0]!) // warm up
    const ours: { ms: number; values: string[] }[] = []
    for (const q of qs) {
      const t = performance.now()
      const v = search(store, q)
      ours.push({ ms: performance.now() - t, values: v })
    }
    const theirs = await plain(modelText, rbac.csv, qs)
    theirs.done.forEach((d, i) => {
      if (JSON.stringify(d.values) !== JSON.stringify(ours[i]!.values))
        throw new Error(
          `${kind} search ${JSON.stringify(qs[i])} differs from node-casbin: ${ours[i]!.values.length} vs ${d.values.length} values`,
        )
    })
    const s = summary(ours.map((o) => o.ms))
    const p = summary(theirs.done.map((d) => d.ms))
    out[kind] = {
      search: { ...s, mean_results: round(ours.reduce((a, o) => a + o.values.length, 0) / ours.length, 1) },
      node_casbin: { ...p, finished_all: theirs.finished, stopped_after_s: theirs.finished ? undefined : plainSeconds },
      ratio_p50: p.queries ? round(p.ms_p50 / s.ms_p50, 1) : `node-casbin finished no query in ${plainSeconds} s`,
      compared_answers: theirs.done.length,
    }
  }
  return {
    store: { lines: rbac.lines.length, users: rbac.users, roles: rbac.roles, objects: rbac.objects },
    searches: out,
  }
}

async function main() {
  const modelText = await fs.readFile(MODEL, 'utf8')
  const results: Record<string, unknown> = {
    at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, node: process.version },
    model: 'policies/rbac.conf',
  }
  for (const size of sizes) {
    const r = await run(size, modelText)
    results[`lines_${size}`] = r
    console.log(
      `\nRBAC store, ${r.store.lines} lines (${r.store.users} users, ${r.store.roles} roles, ${r.store.objects} objects)`,
    )
    for (const [kind, w] of Object.entries(r.searches) as [
      string,
      {
        search: ReturnType<typeof summary> & { mean_results: number }
        node_casbin: ReturnType<typeof summary> & { finished_all: boolean }
        ratio_p50: unknown
        compared_answers: number
      },
    ][]) {
      console.log(
        `  ${kind} search: p50 ${w.search.ms_p50} ms, mean ${w.search.ms_mean} ms, p99 ${w.search.ms_p99} ms (${w.search.queries} queries, ${w.search.mean_results} results each)`,
      )
      console.log(
        `    node-casbin: ${w.node_casbin.queries ? `p50 ${w.node_casbin.ms_p50} ms, mean ${w.node_casbin.ms_mean} ms, p99 ${w.node_casbin.ms_p99} ms` : 'none finished'} (${w.node_casbin.queries} queries${w.node_casbin.finished_all ? '' : `, stopped after ${plainSeconds} s`})`,
      )
      console.log(
        `    p50 ratio ${w.ratio_p50}${typeof w.ratio_p50 === 'number' ? 'x' : ''}; ${w.compared_answers} answers compared: equal`,
      )
    }
  }
  await fs.mkdir(path.dirname(RESULTS), { recursive: true })
  await fs.writeFile(RESULTS, JSON.stringify(results, null, 2) + '\n')
  console.log(`\nwritten to ${path.relative(process.cwd(), RESULTS)}`)
}

await main()
