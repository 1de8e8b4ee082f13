import fs from 'node:fs/promises'
import path from 'node:path'
import { AppError, badRequest, conflict, notFound, type CodeWithStatus } from '../errors.ts'
import type { AuditInput, AuditLog } from '../audit/log.ts'
import type { PolicyQueries, VersionRow } from './queries.ts'
import { formatPolicyCsv, lineKey, parsePolicyCsv, type PolicyLine } from './policy-csv.ts'
import { storeOptions, type StoreOptions } from './options.ts'
import type { EnginePort, PolicyInput } from './port.ts'

export const STORE_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/
export const POLICIES_DIR = path.resolve(import.meta.dirname, '../../policies')

export interface Snapshot {
  store: string
  version: number
  model: string
  lines: PolicyLine[]
  options: StoreOptions
  author: string
  reason: string | null
  createdAt: Date
}

export interface Change {
  /** replace the model: a file name from policies/ or the model text */
  model?: string
  /** replace every policy line (CSV text or lines) */
  policy?: string | PolicyLine[]
  add?: PolicyLine[]
  remove?: PolicyLine[]
  options?: StoreOptions
}

const toSnapshot = (row: VersionRow): Snapshot => ({
  store: row.store,
  version: row.version,
  model: row.model,
  lines: JSON.parse(row.policy) as PolicyLine[],
  options: JSON.parse(row.options) as StoreOptions,
  author: row.author,
  reason: row.reason,
  createdAt: row.createdAt,
})

/** Resolves a model reference: a shipped file name (policies/*.conf) or the model text itself. */
export async function resolveModel(ref: string): Promise<string> {
  if (/^[\w.-]+\.conf$/.test(ref)) {
    try {
      return await fs.readFile(path.join(POLICIES_DIR, ref), 'utf8')
    } catch {
      throw badRequest(
        'unknown_model',
        `no model file ${ref} in policies/ (shipped models: ${(await shippedModels()).join(', ')})`,
      )
    }
  }
  if (!ref.includes('[request_definition]'))
    throw badRequest(
      'invalid_model',
      'model must be a file name from policies/ or Casbin model text with a [request_definition] section',
    )
  return ref
}

export async function shippedModels(): Promise<string[]> {
  return (await fs.readdir(POLICIES_DIR).catch(() => [])).filter((f) => f.endsWith('.conf')).sort()
}

function linesFrom(policy: string | PolicyLine[] | undefined, what: string): PolicyLine[] {
  if (policy === undefined) return []
  if (Array.isArray(policy)) return policy.map((l) => l.map(String))
  const { lines, problems } = parsePolicyCsv(policy)
  if (problems.length)
    throw badRequest(
      'invalid_policy',
      `${what} is not valid policy CSV`,
      problems.map((p) => `line ${p.line}: ${p.message}`),
    )
  return lines
}

type StoresDeps = {
  queries: PolicyQueries
  engine: EnginePort
  audit: AuditLog
  onCommit?: (store: string, version: number) => void | Promise<void>
  /**
   * Per-store invariants every version must keep, checked before each commit (create, change,
   * apply, rollback): e.g. the `system` store always grants `admin` to someone (admin/authority.ts).
   * Returns the refusal, or undefined.
   */
  guards?: Record<string, (lines: PolicyLine[]) => { code: CodeWithStatus<409>; message: string } | undefined>
  /**
   * Built-in stores (name -> why) that the generic create/change/rollback/apply refuse: the
   * `system` store's grants are admin roles, changed only through their own audited service
   * (`createBuiltin` / `changeBuiltin`), so holding `authz:admin` is not a way to become admin.
   */
  reserved?: Record<string, string>
}

/** A whole store as create/apply take it. */
type StoreInput = {
  name: string
  model: string
  policy?: string | PolicyLine[]
  options?: StoreOptions
  description?: string
}

/** The input with its options parsed, or the engine's first refusal as a 400. */
async function validated(deps: StoresDeps, input: PolicyInput) {
  const parsedOptions = storeOptions.safeParse(input.options)
  if (!parsedOptions.success) {
    throw badRequest(
      'invalid_options',
      'store options are not valid',
      parsedOptions.error.issues.map((i) => `options.${i.path.join('.')}: ${i.message}`),
    )
  }
  const problems = await deps.engine.validate({ ...input, options: parsedOptions.data })
  if (problems.length) throw badRequest('invalid_policy', `the change was refused: ${problems[0]}`, problems)
  return { ...input, options: parsedOptions.data }
}

/** `also`: more audit records of the same change (e.g. the admin role it grants), committed with it. */
async function commit(
  deps: StoresDeps,
  store: string,
  input: PolicyInput,
  basedOn: number | null,
  author: string,
  reason: string | undefined,
  description?: string | null,
  also?: AlsoAudit,
) {
  // The commit is based on the version the guard saw (optimistic concurrency), so two
  // changes that each keep the invariant cannot together break it.
  const refused = Object.hasOwn(deps.guards ?? {}, store) ? deps.guards![store]!(input.lines) : undefined
  if (refused) throw conflict(refused.code, refused.message)
  const version = await deps.queries.commit(
    {
      store,
      model: input.modelText,
      policy: JSON.stringify(input.lines),
      options: JSON.stringify(input.options),
      author,
      reason: reason ?? null,
      lineCount: input.lines.length,
    },
    basedOn,
    description,
    deps.audit.with((v: number | null) =>
      v === null
        ? null
        : [
            {
              action: basedOn === null ? 'policy.store_created' : 'policy.changed',
              outcome: 'success',
              actor: author,
              target: store,
              details: { version: v, reason: reason ?? null, lines: input.lines.length },
            },
            ...(also?.(v) ?? []),
          ],
    ),
  )
  if (version === null) {
    throw basedOn === null
      ? conflict('store_exists', `policy store ${store} already exists`)
      : conflict(
          'version_conflict',
          `policy store ${store} changed meanwhile (it is no longer at version ${basedOn}); fetch it and retry`,
        )
  }
  await deps.onCommit?.(store, version)
  return version
}

/**
 * The lines after a change: `policy` replaces them, then `remove` and `add` apply. Removing a
 * line that is not there is an error, so a typo cannot silently leave a permission in place.
 */
function editedLines(current: PolicyLine[], change: Change): PolicyLine[] {
  let lines = change.policy !== undefined ? dedupe(linesFrom(change.policy, 'policy')) : current
  if (change.remove?.length) {
    const present = new Set(lines.map(lineKey))
    const missing = change.remove.filter((l) => !present.has(lineKey(l)))
    if (missing.length)
      throw badRequest(
        'unknown_line',
        `cannot remove lines that are not in the policy: ${missing.map((l) => l.join(', ')).join('; ')}`,
      )
    const gone = new Set(change.remove.map(lineKey))
    lines = lines.filter((l) => !gone.has(lineKey(l)))
  }
  if (change.add?.length) lines = dedupe([...lines, ...change.add.map((l) => l.map(String))])
  return lines
}

/** What changed between two versions of a store. */
function diffOf(store: string, from: number, to: number, a: Snapshot, b: Snapshot) {
  const inA = new Set(a.lines.map(lineKey))
  const inB = new Set(b.lines.map(lineKey))
  return {
    store,
    from,
    to,
    model_changed: a.model !== b.model,
    options_changed: JSON.stringify(a.options) !== JSON.stringify(b.options),
    added: b.lines.filter((l) => !inA.has(lineKey(l))),
    removed: a.lines.filter((l) => !inB.has(lineKey(l))),
  }
}

/**
 * Policy stores with immutable versions. Every change is validated by the engine first (model
 * parses, arities match, no pattern that would hang a matcher function) and then committed
 * atomically as version n+1 with its author, time and reason.
 */
/** Audit records that belong to a policy commit besides its own, given the committed version. */
export type AlsoAudit = (version: number) => AuditInput[]

export function policyStores(deps: StoresDeps) {
  const { queries: q } = deps
  function refuseReserved(store: string) {
    if (Object.hasOwn(deps.reserved ?? {}, store))
      throw new AppError('reserved_store', deps.reserved![store]!, { status: 403 })
  }

  const service = {
    list: () => q.listStores(),

    async current(store: string): Promise<Snapshot> {
      const s = await q.findStore(store)
      if (!s) throw notFound(`no policy store ${store}`)
      return service.version(store, s.version)
    },

    async version(store: string, version: number): Promise<Snapshot> {
      const row = await q.findVersion(store, version)
      if (!row) throw notFound(`policy store ${store} has no version ${version}`)
      return toSnapshot(row)
    },

    versions: (store: string) => q.listVersions(store),

    async create(input: StoreInput, author: string, reason?: string) {
      refuseReserved(input.name)
      return service.createBuiltin(input, author, reason)
    },

    /** `create` for the built-in stores (their own service only). */
    async createBuiltin(input: StoreInput, author: string, reason?: string, also?: AlsoAudit) {
      if (!STORE_NAME.test(input.name))
        throw badRequest(
          'invalid_name',
          'store names are 1-64 characters: lowercase letters, digits, _ and -, starting with a letter or digit',
        )
      if (await q.findStore(input.name)) throw conflict('store_exists', `policy store ${input.name} already exists`)
      const checked = await validated(deps, {
        modelText: await resolveModel(input.model),
        lines: dedupe(linesFrom(input.policy, 'policy')),
        options: input.options ?? {},
      })
      return commit(deps, input.name, checked, null, author, reason ?? 'created', input.description ?? null, also)
    },

    /**
     * Applies a change to the current version (or to `basedOn`, for optimistic concurrency:
     * the caller's If-Match) and commits it. Removing a line that is not there is an error, so
     * a typo cannot silently leave a permission in place.
     */
    async change(store: string, change: Change, author: string, reason?: string, basedOn?: number) {
      refuseReserved(store)
      return service.changeBuiltin(store, change, author, reason, basedOn)
    },

    /** `change` for the built-in stores (their own service only). */
    async changeBuiltin(
      store: string,
      change: Change,
      author: string,
      reason?: string,
      basedOn?: number,
      also?: AlsoAudit,
    ) {
      const cur = await service.current(store)
      if (basedOn !== undefined && basedOn !== cur.version) {
        throw conflict('version_conflict', `policy store ${store} is at version ${cur.version}, not ${basedOn}`)
      }
      const lines = editedLines(cur.lines, change)
      const next = await validated(deps, {
        modelText: change.model !== undefined ? await resolveModel(change.model) : cur.model,
        lines,
        options: change.options ?? cur.options,
      })
      if (
        next.modelText === cur.model &&
        JSON.stringify(next.options) === JSON.stringify(cur.options) &&
        sameLines(next.lines, cur.lines)
      ) {
        return { version: cur.version, changed: false }
      }
      return { version: await commit(deps, store, next, cur.version, author, reason, undefined, also), changed: true }
    },

    /** Rolls back by committing the old snapshot as a new version (history is never rewritten). */
    async rollback(store: string, to: number, author: string, reason?: string) {
      refuseReserved(store)
      const target = await service.version(store, to)
      const cur = await service.current(store)
      const input = await validated(deps, { modelText: target.model, lines: target.lines, options: target.options })
      return commit(deps, store, input, cur.version, author, reason ?? `rollback to version ${to}`)
    },

    async diff(store: string, from: number, to: number) {
      const [a, b] = await Promise.all([service.version(store, from), service.version(store, to)])
      return diffOf(store, from, to, a, b)
    },

    async exportCsv(store: string, version?: number) {
      const snap = version === undefined ? await service.current(store) : await service.version(store, version)
      return formatPolicyCsv(snap.lines)
    },

    /** Import/CLI: make the store look like this document, committing only if it differs. */
    async apply(input: StoreInput, author: string, reason?: string) {
      if (!(await q.findStore(input.name)))
        return { version: await service.create(input, author, reason), changed: true }
      return service.change(
        input.name,
        { model: input.model, policy: input.policy ?? [], options: input.options ?? {} },
        author,
        reason,
      )
    },

    /** Validation only (import dry run, policy test). */
    async check(input: { model: string; policy?: string | PolicyLine[]; options?: StoreOptions }) {
      return validated(deps, {
        modelText: await resolveModel(input.model),
        lines: dedupe(linesFrom(input.policy, 'policy')),
        options: input.options ?? {},
      })
    },
  }
  return service
}
export type PolicyStores = ReturnType<typeof policyStores>

function dedupe(lines: PolicyLine[]): PolicyLine[] {
  const seen = new Set<string>()
  return lines.filter((l) => {
    const k = lineKey(l)
    if (seen.has(k)) return false
    seen.add(k)
    return true
  })
}

// Order matters: priority effects and `matched` reporting follow policy order.
const sameLines = (a: PolicyLine[], b: PolicyLine[]) => JSON.stringify(a) === JSON.stringify(b)
