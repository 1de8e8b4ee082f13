import Router from '@koa/router'
import type { Context, Middleware } from 'koa'
import { z } from 'zod'
import { AppError, badRequest, forbidden } from '../errors.ts'
import { readJson } from './body.ts'
import { authenticate, callerOf, mayUseStore, requireScope, type BearerScheme, type Caller } from './middleware/authn.ts'
import type { PolicyStores } from '../authz/stores.ts'
import type { Decider } from '../authz/decide.ts'
import { evaluationRequest, evaluationsRequest, mergeDefaults, partialEvaluation, type EvaluationsRequest } from '../authz/authzen.ts'
import { storeOptions } from '../authz/options.ts'

export interface AuthzRouteDeps {
  publicUrl: string
  bearerSchemes: readonly BearerScheme[]
  stores: PolicyStores
  decide: Decider
  /** MANAGEMENT_ALLOWED_IPS guard (middleware/management-ips.ts): policy changes only. */
  management?: Middleware
}

const line = z.array(z.string().max(4096)).min(2).max(64)
const policyInput = z.union([z.string().max(16 * 1024 * 1024), z.array(line)])

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value)
  if (!r.success) {
    throw badRequest('invalid_request', r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '))
  }
  return r.data
}

const who = (c: Caller) => (c.kind === 'api_key' ? `apikey:${c.apiKey?.id}` : c.kind === 'client' ? `client:${c.clientId ?? c.id}` : `user:${c.id}`)

function guardStore(ctx: Context, store: string) {
  const caller = callerOf(ctx)!
  if (!mayUseStore(caller, store)) throw forbidden(`this caller may not use policy store ${store}`)
}

const storeParam = (ctx: Context) => {
  const name = ctx.params.store as string
  guardStore(ctx, name)
  return name
}

const versionParam = (v: unknown, what = 'version') => {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw badRequest('invalid_request', `${what} must be a positive whole number`)
  return n
}

/**
 * The policy decision point over HTTP:
 * - OpenID AuthZEN Authorization API 1.0 at /.well-known/authzen-configuration and
 *   /access/v1/evaluation(s) (scope authz:check);
 * - the native check API and listings under /authz/v1/stores/{store} (scope authz:check);
 * - store management and versions under /authz/v1/stores (scope authz:admin).
 */
/** Server-Timing (W3C): how long the PDP spent on a decision request, for PEPs and bench/. */
async function timed(ctx: Context, next: () => Promise<unknown>) {
  const started = performance.now()
  await next()
  ctx.set('Server-Timing', `pdp;dur=${(performance.now() - started).toFixed(3)}`)
}

type Evaluated = { decision: boolean; context?: Record<string, unknown> }

const checkRequest = z.object({ request: z.array(z.unknown()).min(1).max(32) })
const checkBatchRequest = z.object({ requests: z.array(z.array(z.unknown()).min(1).max(32)).min(1).max(10_000) })

/**
 * The decision calls (AuthZEN evaluation(s), native check and check/batch) from an authenticated
 * caller and a parsed JSON body to the response body. Shared by the Koa routes below and the
 * decision fast lane (decision-lane.ts), so both answer identically.
 */
export function decisionCalls(decide: Decider) {
  const useStore = (caller: Caller, name: string) => {
    if (!mayUseStore(caller, name)) throw forbidden(`this caller may not use policy store ${name}`)
    return name
  }
  /**
   * AuthZEN names no store: the request's `context.store` picks one, else the caller's only
   * permitted store, else `default`.
   */
  const authzenStore = (caller: Caller, requested: unknown) =>
    decide.storeOf(useStore(caller, typeof requested === 'string' ? requested : caller.stores?.length === 1 ? caller.stores[0]! : 'default'))

  /**
   * One entry of a batch. AuthZEN 1.0 (Access Evaluations API): an error in one evaluation
   * (an invalid entry, an unknown or forbidden store, a request the store cannot map) is that
   * entry's `decision: false` with the error in its context; the others are still answered.
   */
  function evaluateEntry(caller: Caller, req: EvaluationsRequest, entry: unknown, i: number): Evaluated {
    try {
      const parsed = partialEvaluation.safeParse(entry)
      if (!parsed.success) {
        throw badRequest('invalid_request', parsed.error.issues.map((x) => `evaluations[${i}]${x.path.map((p) => `.${String(p)}`).join('')}: ${x.message}`).join('; '))
      }
      const m = mergeDefaults(req, parsed.data, i)
      if (typeof m === 'string') throw badRequest('invalid_request', m)
      return decide.evaluate(authzenStore(caller, m.context?.store), m)
    } catch (err) {
      if (!(err instanceof AppError) || !err.expose) throw err
      return { decision: false, context: { error: { status: err.status, code: err.code, message: err.message } } }
    }
  }

  return {
    evaluation(caller: Caller, body: unknown) {
      const req = parse(evaluationRequest, body)
      return decide.evaluate(authzenStore(caller, req.context?.store), req)
    },

    evaluations(caller: Caller, body: unknown) {
      const req = parse(evaluationsRequest, body)
      const entries = req.evaluations ?? []
      if (!entries.length) {
        // §7.1: without an evaluations array the request is a single evaluation.
        const single = mergeDefaults(req, {}, 0)
        if (typeof single === 'string') throw badRequest('invalid_request', single.replace('evaluations[0]', 'the request'))
        return decide.evaluate(authzenStore(caller, single.context?.store), single)
      }
      const semantic = req.options?.evaluations_semantic ?? 'execute_all'
      const results: Evaluated[] = []
      for (const [i, entry] of entries.entries()) {
        const r = evaluateEntry(caller, req, entry, i)
        results.push(r)
        if ((semantic === 'deny_on_first_deny' && !r.decision) || (semantic === 'permit_on_first_permit' && r.decision)) break
      }
      return { evaluations: results }
    },

    check(caller: Caller, store: string, body: unknown) {
      useStore(caller, store)
      const req = parse(checkRequest, body)
      return decide.check(store, req.request)
    },

    checkBatch(caller: Caller, store: string, body: unknown) {
      useStore(caller, store)
      const req = parse(checkBatchRequest, body)
      const s = decide.storeOf(store)
      return {
        version: s.version,
        results: req.requests.map((r, i) => {
          const d = decide.check(store, r, `requests[${i}]`)
          return { allowed: d.allowed, matched: d.matched }
        }),
      }
    },
  }
}
export type DecisionCalls = ReturnType<typeof decisionCalls>

export function authzRouter(deps: AuthzRouteDeps) {
  const router = new Router()
  const calls = decisionCalls(deps.decide)
  const authn = authenticate(deps.bearerSchemes)
  const check = requireScope('authz:check', 'authz:admin')
  const admin = requireScope('authz:admin')
  const mgmt: Middleware = deps.management ?? ((_ctx, next) => next())

  // AuthZEN §9: PDP metadata.
  router.get('/.well-known/authzen-configuration', (ctx) => {
    ctx.body = {
      policy_decision_point: deps.publicUrl,
      access_evaluation_endpoint: `${deps.publicUrl}/access/v1/evaluation`,
      access_evaluations_endpoint: `${deps.publicUrl}/access/v1/evaluations`,
    }
  })

  router.post('/access/v1/evaluation', timed, authn, check, async (ctx) => {
    ctx.body = calls.evaluation(callerOf(ctx)!, await readJson(ctx))
  })

  router.post('/access/v1/evaluations', timed, authn, check, async (ctx) => {
    ctx.body = calls.evaluations(callerOf(ctx)!, await readJson(ctx))
  })

  // --- native API ---------------------------------------------------------------------------
  router.post('/authz/v1/stores/:store/check', timed, authn, check, async (ctx) => {
    ctx.body = calls.check(callerOf(ctx)!, ctx.params.store!, await readJson(ctx))
  })

  router.post('/authz/v1/stores/:store/check/batch', timed, authn, check, async (ctx) => {
    ctx.body = calls.checkBatch(callerOf(ctx)!, ctx.params.store!, await readJson(ctx))
  })

  router.get('/authz/v1/stores/:store/subjects/:subject/permissions', authn, check, async (ctx) => {
    const s = deps.decide.storeOf(storeParam(ctx))
    const domain = typeof ctx.query.domain === 'string' ? ctx.query.domain : undefined
    ctx.body = { store: s.name, version: s.version, subject: ctx.params.subject, permissions: await s.engine.implicitPermissions(ctx.params.subject!, domain) }
  })

  router.get('/authz/v1/stores/:store/roles/:role/users', authn, check, async (ctx) => {
    const s = deps.decide.storeOf(storeParam(ctx))
    const domain = typeof ctx.query.domain === 'string' ? ctx.query.domain : undefined
    ctx.body = { store: s.name, version: s.version, role: ctx.params.role, users: await s.engine.usersForRole(ctx.params.role!, domain) }
  })

  // --- management ---------------------------------------------------------------------------
  router.get('/authz/v1/stores', authn, check, async (ctx) => {
    const caller = callerOf(ctx)!
    const stores = (await deps.stores.list()).filter((s) => mayUseStore(caller, s.name))
    ctx.body = { stores: stores.map((s) => ({ name: s.name, description: s.description, version: s.version, updated_at: s.updatedAt })) }
  })

  router.post('/authz/v1/stores', mgmt, authn, admin, async (ctx) => {
    const body = parse(z.object({
      name: z.string(), model: z.string().min(1).max(64 * 1024), policy: policyInput.optional(),
      options: storeOptions.optional(), description: z.string().max(500).optional(), reason: z.string().max(500).optional(),
    }).strict(), await readJson(ctx, 32 * 1024 * 1024))
    guardStore(ctx, body.name)
    const version = await deps.stores.create(body, who(callerOf(ctx)!), body.reason)
    ctx.status = 201
    ctx.set('Location', `/authz/v1/stores/${body.name}`)
    ctx.body = { name: body.name, version }
  })

  router.get('/authz/v1/stores/:store', authn, check, async (ctx) => {
    const snap = await deps.stores.current(storeParam(ctx))
    ctx.set('ETag', `"${snap.version}"`)
    ctx.body = snapshotBody(snap)
  })

  // A change: add/remove lines, replace the policy, the model or the options. If-Match (or
  // based_on) makes it conditional on the version the caller looked at.
  router.post('/authz/v1/stores/:store/versions', mgmt, authn, admin, async (ctx) => {
    const store = storeParam(ctx)
    const body = parse(z.object({
      add: z.array(line).max(100_000).optional(), remove: z.array(line).max(100_000).optional(),
      policy: policyInput.optional(), model: z.string().min(1).max(64 * 1024).optional(), options: storeOptions.optional(),
      reason: z.string().max(500).optional(), based_on: z.number().int().positive().optional(),
    }).strict().refine((b) => b.add || b.remove || b.policy !== undefined || b.model || b.options, 'nothing to change: give add, remove, policy, model or options'), await readJson(ctx, 32 * 1024 * 1024))
    const ifMatch = /^"?(\d+)"?$/.exec(ctx.get('if-match'))?.[1]
    const basedOn = body.based_on ?? (ifMatch ? Number(ifMatch) : undefined)
    const { reason, based_on: _b, ...change } = body
    const r = await deps.stores.change(store, change, who(callerOf(ctx)!), reason, basedOn)
    ctx.status = r.changed ? 201 : 200
    ctx.set('ETag', `"${r.version}"`)
    ctx.body = { name: store, version: r.version, changed: r.changed }
  })

  router.get('/authz/v1/stores/:store/versions', authn, check, async (ctx) => {
    const store = storeParam(ctx)
    await deps.stores.current(store) // 404 for an unknown store
    const versions = await deps.stores.versions(store)
    ctx.body = { store, versions: versions.map((v) => ({ version: v.version, author: v.author, reason: v.reason, lines: v.lineCount, created_at: v.createdAt })) }
  })

  router.get('/authz/v1/stores/:store/versions/:version', authn, check, async (ctx) => {
    const store = storeParam(ctx)
    const version = versionParam(ctx.params.version)
    if (ctx.accepts('json', 'text/csv') === 'text/csv') {
      ctx.type = 'text/csv'
      ctx.body = await deps.stores.exportCsv(store, version)
      return
    }
    ctx.body = snapshotBody(await deps.stores.version(store, version))
  })

  router.get('/authz/v1/stores/:store/versions/:version/policy.csv', authn, check, async (ctx) => {
    const store = storeParam(ctx)
    const version = versionParam(ctx.params.version)
    // Looked up first: only an existing store's name (ASCII by its rules) goes into the header;
    // any other text there made Node refuse the header, a 500.
    const csv = await deps.stores.exportCsv(store, version)
    ctx.type = 'text/csv'
    ctx.set('Content-Disposition', `attachment; filename="${store}-v${version}.csv"`)
    ctx.body = csv
  })

  router.get('/authz/v1/stores/:store/diff', authn, check, async (ctx) => {
    const store = storeParam(ctx)
    ctx.body = await deps.stores.diff(store, versionParam(ctx.query.from, 'from'), versionParam(ctx.query.to, 'to'))
  })

  router.post('/authz/v1/stores/:store/rollback', mgmt, authn, admin, async (ctx) => {
    const store = storeParam(ctx)
    const body = parse(z.object({ to: z.number().int().positive(), reason: z.string().max(500).optional() }).strict(), await readJson(ctx))
    const version = await deps.stores.rollback(store, body.to, who(callerOf(ctx)!), body.reason)
    ctx.status = 201
    ctx.body = { name: store, version, rolled_back_to: body.to }
  })

  return router
}

function snapshotBody(s: Awaited<ReturnType<PolicyStores['current']>>) {
  return { name: s.store, version: s.version, model: s.model, policy: s.lines, options: s.options, author: s.author, reason: s.reason, created_at: s.createdAt }
}
