#!/usr/bin/env node
// Fails (exit 1) on known high or critical advisories in production dependencies
// (`npm audit --omit=dev`), except those accepted in audit-exceptions.json until their expiry.
//
//   node scripts/audit-deps.mjs                 run npm audit and judge its report
//   node scripts/audit-deps.mjs --input r.json  judge a saved `npm audit --omit=dev --json` report
//   --exceptions FILE   another exceptions file (default: audit-exceptions.json at the repo root)
//   --strict            an unreachable advisory endpoint fails too (exit 2)
//
// audit-exceptions.json: [{"id": "GHSA-xxxx-xxxx-xxxx", "package": "name", "reason": "why it
// does not affect us", "expires": "YYYY-MM-DD"}]. An expired exception fails the run: renew it
// with a new reason or fix the dependency. `id` is the advisory's GHSA id (or npm's number).
//
// When the registry does not answer audit requests (offline mirrors answer 405), the run says
// so loudly and exits 0 — CI must not fail because a registry is down — unless --strict.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const args = process.argv.slice(2)
const opt = (name) => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}
const strict = args.includes('--strict')
const BLOCKING = new Set(['high', 'critical'])

function report() {
  const input = opt('--input')
  if (input) return fs.readFileSync(input, 'utf8')
  try {
    return execFileSync('npm', ['audit', '--omit=dev', '--json'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 64 * 1024 * 1024,
      timeout: 180_000,
    })
  } catch (e) {
    // npm audit exits non-zero when it finds anything, and when it cannot ask at all (or timed out)
    return e.stdout ?? ''
  }
}

function loadExceptions() {
  const file = opt('--exceptions') ?? path.join(root, 'audit-exceptions.json')
  if (!fs.existsSync(file)) return []
  const list = JSON.parse(fs.readFileSync(file, 'utf8'))
  if (!Array.isArray(list)) throw new Error(`${file}: must be a JSON array`)
  return list.map((x, i) => {
    const where = `${file} entry ${i + 1}`
    if (!x || typeof x.id !== 'string' || !x.id) throw new Error(`${where}: "id" (the advisory's GHSA id) is required`)
    if (typeof x.reason !== 'string' || x.reason.trim().length < 10)
      throw new Error(`${where}: "reason" must say why the advisory is accepted`)
    if (
      typeof x.expires !== 'string' ||
      !/^\d{4}-\d{2}-\d{2}$/.test(x.expires) ||
      Number.isNaN(Date.parse(x.expires))
    ) {
      throw new Error(`${where}: "expires" must be a date YYYY-MM-DD`)
    }
    return { ...x, expired: Date.parse(`${x.expires}T23:59:59Z`) < Date.now() }
  })
}

/** The high/critical advisories of an `npm audit --json` (v2) report, one per advisory id. */
function advisories(doc) {
  const found = new Map()
  for (const v of Object.values(doc.vulnerabilities ?? {})) {
    for (const via of v.via ?? []) {
      if (typeof via !== 'object' || !BLOCKING.has(via.severity)) continue
      const ghsa = /GHSA-[\w-]+/.exec(via.url ?? '')?.[0]
      const id = ghsa ?? String(via.source)
      found.set(id, {
        id,
        ids: [id, String(via.source)],
        package: via.name,
        severity: via.severity,
        title: via.title,
        url: via.url,
        range: via.range,
      })
    }
  }
  return [...found.values()]
}

function main() {
  let exceptions
  try {
    exceptions = loadExceptions()
  } catch (e) {
    console.error(`audit-deps: ${e.message}`)
    return 1
  }
  const text = report()
  let doc
  try {
    doc = JSON.parse(text)
  } catch {
    doc = undefined
  }
  if (!doc || !doc.vulnerabilities || !doc.metadata) {
    const why = doc?.message ?? doc?.error?.summary ?? (text.trim() ? text.trim().slice(0, 200) : 'no report')
    console.error(
      'audit-deps: WARNING: the npm advisory endpoint did not answer; production dependencies were NOT checked.',
    )
    console.error(`audit-deps: npm said: ${why}`)
    if (strict) return 2
    console.error('audit-deps: not failing for an unreachable registry (use --strict to fail).')
    return 0
  }
  let failed = false
  for (const x of exceptions.filter((e) => e.expired)) {
    console.error(
      `audit-deps: FAIL exception for ${x.id} expired on ${x.expires} (${x.reason}); fix the dependency or renew the exception`,
    )
    failed = true
  }
  const found = advisories(doc)
  for (const a of found) {
    const accepted = exceptions.find((x) => !x.expired && a.ids.includes(x.id))
    if (accepted) {
      console.log(
        `audit-deps: accepted ${a.severity} ${a.id} in ${a.package} until ${accepted.expires}: ${accepted.reason}`,
      )
      continue
    }
    console.error(
      `audit-deps: FAIL ${a.severity} ${a.id} in ${a.package} ${a.range ?? ''}: ${a.title ?? ''} ${a.url ?? ''}`,
    )
    failed = true
  }
  const counts = doc.metadata.vulnerabilities ?? {}
  console.log(
    `audit-deps: production dependencies: ${counts.critical ?? 0} critical, ${counts.high ?? 0} high, ${counts.moderate ?? 0} moderate, ${counts.low ?? 0} low`,
  )
  return failed ? 1 : 0
}

process.exitCode = main()
