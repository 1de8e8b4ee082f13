import Router from '@koa/router'
import type { Middleware } from 'koa'
import { z } from 'zod'
import { AppError, badRequest, forbidden } from '../errors.ts'
import { mayUseStore, type BearerScheme, type Caller } from '../http/middleware/authn.ts'
import { defineRoute, mountRoutes, pureRoute, reply, route, type Route } from '../http/contract.ts'
import type { PolicyStores } from './stores.ts'
import type { Decider } from './decide.ts'
import {
  actionSearchRequest,
  actionSearchResponse,
  evaluationRequest,
  evaluationsRequest,
  mergeDefaults,
  partialEvaluation,
  resourceSearchRequest,
  resourceSearchResponse,
  subjectSearchRequest,
  subjectSearchResponse,
  type EvaluationsRequest,
} from './authzen.ts'
import { searchStore, type SearchAnswer } from './search.ts'
import { storeOptions } from './options.ts'
import { authzenDecision, checkResult, type AuthzenDecision } from './decisions.ts'

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

const who = (c: Caller) =>
  c.kind === 'api_key'
    ? `apikey:${c.apiKey?.id}`
    : c.kind === 'client'
      ? `client:${c.clientId ?? c.id}`
      : `user:${c.id}`

function useStore(caller: Caller, name: string) {
  if (!mayUseStore(caller, name)) throw forbidden(`this caller may not use policy store ${name}`)
  return name
}
/** A caller limited to some stores (an API key or token bound to them) may use only those. */
const storeGuard = {
  authorize: ({ caller, params }: { caller: Caller; params: Readonly<Record<string, string>> }) =>
    void useStore(caller, params.store!),
}

// --- schemas ----------------------------------------------------------------------------------

const positiveWhole = (what = 'must be a positive whole number') =>
  z
    .string({ error: what })
    .refine((v) => Number.isInteger(Number(v)) && Number(v) >= 1, what)
    .transform(Number)
    .describe('a positive whole number')
const storePath = z.object({
  store: z.string().describe('policy store name: 1-64 of a-z, 0-9, _ and -, starting with a letter or digit'),
})
const versionPath = storePath.extend({ version: positiveWhole() })

const check = { scopes: ['authz:check', 'authz:admin'] } as const
const admin = { scopes: ['authz:admin'], management: true } as const

const checkRequest = z.object({
  request: z.array(z.unknown()).min(1).max(32).describe('the request tuple, e.g. ["alice", "doc1", "read"]'),
})
const checkBatchRequest = z.object({ requests: z.array(z.array(z.unknown()).min(1).max(32)).min(1).max(10_000) })
const policyLine = z.array(z.string())
const evaluationResult = authzenDecision
const storeSummary = z.object({
  name: z.string(),
  description: z.string().nullable(),
  version: z.number().int(),
  updated_at: z.iso.datetime(),
})
const snapshot = z.object({
  name: z.string(),
  version: z.number().int(),
  model: z.string(),
  policy: z.array(policyLine),
  options: storeOptions,
  author: z.string(),
  reason: z.string().nullable(),
  created_at: z.iso.datetime(),
})
const createStoreBody = z
  .object({
    name: z.string(),
    model: z
      .string()
      .min(1)
      .max(64 * 1024)
      .describe('a model file name from policies/ or the model text'),
    policy: policyInput.optional(),
    options: storeOptions.optional(),
    description: z.string().max(500).optional(),
    reason: z.string().max(500).optional(),
  })
  .strict()
const changeBody = z
  .object({
    add: z.array(line).max(100_000).optional(),
    remove: z.array(line).max(100_000).optional(),
    policy: policyInput.optional(),
    model: z
      .string()
      .min(1)
      .max(64 * 1024)
      .optional(),
    options: storeOptions.optional(),
    reason: z.string().max(500).optional(),
    based_on: z.number().int().positive().optional().describe('the version this change is based on (else If-Match)'),
  })
  .strict()
  .refine(
    (b) => b.add || b.remove || b.policy !== undefined || b.model || b.options,
    'nothing to change: give add, remove, policy, model or options',
  )
const versionSummary = z.object({
  version: z.number().int(),
  author: z.string(),
  reason: z.string().nullable(),
  lines: z.number().int(),
  created_at: z.iso.datetime(),
})
const BIG = 32 * 1024 * 1024

// --- contracts --------------------------------------------------------------------------------

export const authzContracts = {
  configuration: defineRoute({
    operationId: 'authzenConfiguration',
    method: 'get',
    path: '/.well-known/authzen-configuration',
    tags: ['AuthZEN'],
    auth: 'public',
    summary: 'AuthZEN PDP metadata (AuthZEN 1.0 §9)',
    responses: {
      200: {
        description: 'PDP metadata',
        body: z.object({
          policy_decision_point: z.url(),
          access_evaluation_endpoint: z.url(),
          access_evaluations_endpoint: z.url(),
          search_subject_endpoint: z.url(),
          search_resource_endpoint: z.url(),
          search_action_endpoint: z.url(),
        }),
      },
    },
  }),
  evaluation: defineRoute({
    operationId: 'accessEvaluation',
    method: 'post',
    path: '/access/v1/evaluation',
    tags: ['AuthZEN'],
    auth: check,
    timing: 'pdp',
    summary: 'One access evaluation (AuthZEN 1.0 Access Evaluation API)',
    description: "The store is `context.store`, else the caller's only permitted store, else `default`.",
    body: { schema: evaluationRequest },
    responses: {
      200: { description: 'the decision', body: evaluationResult, headers: { 'Server-Timing': 'pdp;dur=<ms>' } },
    },
  }),
  evaluations: defineRoute({
    operationId: 'accessEvaluations',
    method: 'post',
    path: '/access/v1/evaluations',
    tags: ['AuthZEN'],
    auth: check,
    timing: 'pdp',
    summary: 'A batch of access evaluations (AuthZEN 1.0 Access Evaluations API)',
    description:
      "An invalid entry is that entry's `decision: false` with the error in its context; the others are still answered.",
    body: { schema: evaluationsRequest },
    responses: {
      200: {
        description: 'one decision per evaluation, or a single decision without `evaluations`',
        body: z.union([z.object({ evaluations: z.array(evaluationResult) }), evaluationResult]),
      },
    },
  }),
  searchSubject: defineRoute({
    operationId: 'searchSubjects',
    method: 'post',
    path: '/access/v1/search/subject',
    tags: ['AuthZEN'],
    auth: check,
    timing: 'pdp',
    summary: 'Subjects that may perform an action on a resource (AuthZEN 1.0 Subject Search API)',
    description:
      "The store is `context.store`, else the caller's only permitted store, else `default`. A store whose model gives no finite list of values for the searched element (ABAC attributes, eval(), pattern functions) answers 400 `search_unsupported` naming why. Roles are not results; the users holding them are.",
    body: { schema: subjectSearchRequest },
    responses: { 200: { description: 'one page of subjects', body: subjectSearchResponse } },
  }),
  searchResource: defineRoute({
    operationId: 'searchResources',
    method: 'post',
    path: '/access/v1/search/resource',
    tags: ['AuthZEN'],
    auth: check,
    timing: 'pdp',
    summary: 'Resources on which a subject may perform an action (AuthZEN 1.0 Resource Search API)',
    description:
      "The store is `context.store`, else the caller's only permitted store, else `default`. A store whose model gives no finite list of values for the searched element (ABAC attributes, eval(), pattern functions) answers 400 `search_unsupported` naming why.",
    body: { schema: resourceSearchRequest },
    responses: { 200: { description: 'one page of resources', body: resourceSearchResponse } },
  }),
  searchAction: defineRoute({
    operationId: 'searchActions',
    method: 'post',
    path: '/access/v1/search/action',
    tags: ['AuthZEN'],
    auth: check,
    timing: 'pdp',
    summary: 'Actions a subject may perform on a resource (AuthZEN 1.0 Action Search API)',
    description:
      "The store is `context.store`, else the caller's only permitted store, else `default`. A store whose model gives no finite list of values for the searched element (ABAC attributes, eval(), pattern functions) answers 400 `search_unsupported` naming why.",
    body: { schema: actionSearchRequest },
    responses: { 200: { description: 'one page of actions', body: actionSearchResponse } },
  }),
  check: defineRoute({
    operationId: 'checkPolicy',
    method: 'post',
    path: '/authz/v1/stores/:store/check',
    tags: ['Policy decisions'],
    auth: check,
    timing: 'pdp',
    summary: 'Native check: may this request tuple pass?',
    params: storePath,
    body: { schema: checkRequest },
    responses: { 200: { description: 'the decision', body: checkResult } },
  }),
  checkBatch: defineRoute({
    operationId: 'checkPolicyBatch',
    method: 'post',
    path: '/authz/v1/stores/:store/check/batch',
    tags: ['Policy decisions'],
    auth: check,
    timing: 'pdp',
    summary: 'Native check of many request tuples against one version',
    params: storePath,
    body: { schema: checkBatchRequest },
    responses: {
      200: {
        description: 'one result per request',
        body: z.object({ version: z.number().int(), results: z.array(checkResult.omit({ version: true })) }),
      },
    },
  }),
  permissions: defineRoute({
    operationId: 'subjectPermissions',
    method: 'get',
    path: '/authz/v1/stores/:store/subjects/:subject/permissions',
    tags: ['Policy decisions'],
    auth: check,
    summary: 'Every permission a subject holds, directly or through roles',
    params: storePath.extend({ subject: z.string() }),
    query: z.object({ domain: z.string().optional() }),
    responses: {
      200: {
        description: 'the permissions',
        body: z.object({
          store: z.string(),
          version: z.number().int(),
          subject: z.string(),
          permissions: z.array(policyLine),
        }),
      },
    },
  }),
  roleUsers: defineRoute({
    operationId: 'roleUsers',
    method: 'get',
    path: '/authz/v1/stores/:store/roles/:role/users',
    tags: ['Policy decisions'],
    auth: check,
    summary: 'Every user holding a role',
    params: storePath.extend({ role: z.string() }),
    query: z.object({ domain: z.string().optional() }),
    responses: {
      200: {
        description: 'the users',
        body: z.object({ store: z.string(), version: z.number().int(), role: z.string(), users: z.array(z.string()) }),
      },
    },
  }),
  listStores: defineRoute({
    operationId: 'listStores',
    method: 'get',
    path: '/authz/v1/stores',
    tags: ['Policy stores'],
    auth: check,
    summary: 'The policy stores this caller may use',
    responses: { 200: { description: 'the stores', body: z.object({ stores: z.array(storeSummary) }) } },
  }),
  createStore: defineRoute({
    operationId: 'createStore',
    method: 'post',
    path: '/authz/v1/stores',
    tags: ['Policy stores'],
    auth: admin,
    summary: 'Create a policy store',
    body: { schema: createStoreBody, limit: BIG },
    responses: {
      201: {
        description: 'created',
        body: z.object({ name: z.string(), version: z.number().int() }),
        headers: { Location: 'the store' },
      },
      409: { description: 'the store exists' },
    },
  }),
  getStore: defineRoute({
    operationId: 'getStore',
    method: 'get',
    path: '/authz/v1/stores/:store',
    tags: ['Policy stores'],
    auth: check,
    summary: 'The current version of a store',
    params: storePath,
    responses: {
      200: { description: 'the current snapshot', body: snapshot, headers: { ETag: '"<version>"' } },
      404: { description: 'no such store' },
    },
  }),
  changeStore: defineRoute({
    operationId: 'changeStore',
    method: 'post',
    path: '/authz/v1/stores/:store/versions',
    tags: ['Policy stores'],
    auth: admin,
    summary: 'Change a store (a new version)',
    params: storePath,
    body: { schema: changeBody, limit: BIG },
    headers: { 'If-Match': 'the version ("<n>") the change is based on; a stale one is refused' },
    responses: {
      201: {
        description: 'a new version',
        body: z.object({ name: z.string(), version: z.number().int(), changed: z.literal(true) }),
        headers: { ETag: '"<version>"' },
      },
      200: {
        description: 'nothing changed',
        body: z.object({ name: z.string(), version: z.number().int(), changed: z.literal(false) }),
        headers: { ETag: '"<version>"' },
      },
      404: { description: 'no such store' },
      409: { description: 'based on a stale version' },
    },
  }),
  listVersions: defineRoute({
    operationId: 'listVersions',
    method: 'get',
    path: '/authz/v1/stores/:store/versions',
    tags: ['Policy stores'],
    auth: check,
    summary: 'Every version of a store',
    params: storePath,
    responses: {
      200: { description: 'the versions', body: z.object({ store: z.string(), versions: z.array(versionSummary) }) },
      404: { description: 'no such store' },
    },
  }),
  getVersion: defineRoute({
    operationId: 'getVersion',
    method: 'get',
    path: '/authz/v1/stores/:store/versions/:version',
    tags: ['Policy stores'],
    auth: check,
    summary: 'One version of a store (JSON, or CSV with Accept: text/csv)',
    params: versionPath,
    responses: {
      200: { description: 'the snapshot', body: snapshot, media: ['text/csv'] },
      404: { description: 'no such store or version' },
    },
  }),
  versionCsv: defineRoute({
    operationId: 'getVersionCsv',
    method: 'get',
    path: '/authz/v1/stores/:store/versions/:version/policy.csv',
    tags: ['Policy stores'],
    auth: check,
    summary: "One version's policy as CSV (a download)",
    params: versionPath,
    responses: {
      200: { description: 'the policy lines', media: ['text/csv'], headers: { 'Content-Disposition': 'attachment' } },
      404: { description: 'no such store or version' },
    },
  }),
  diff: defineRoute({
    operationId: 'diffVersions',
    method: 'get',
    path: '/authz/v1/stores/:store/diff',
    tags: ['Policy stores'],
    auth: check,
    summary: 'What changed between two versions',
    params: storePath,
    query: z.object({ from: positiveWhole(), to: positiveWhole() }),
    responses: {
      200: {
        description: 'the difference',
        body: z.object({
          store: z.string(),
          from: z.number().int(),
          to: z.number().int(),
          model_changed: z.boolean(),
          options_changed: z.boolean(),
          added: z.array(policyLine),
          removed: z.array(policyLine),
        }),
      },
      404: { description: 'no such store or version' },
    },
  }),
  rollback: defineRoute({
    operationId: 'rollbackStore',
    method: 'post',
    path: '/authz/v1/stores/:store/rollback',
    tags: ['Policy stores'],
    auth: admin,
    summary: 'Make an earlier version current again (as a new version)',
    params: storePath,
    body: { schema: z.object({ to: z.number().int().positive(), reason: z.string().max(500).optional() }).strict() },
    responses: {
      201: {
        description: 'the new version',
        body: z.object({ name: z.string(), version: z.number().int(), rolled_back_to: z.number().int() }),
      },
      404: { description: 'no such store or version' },
    },
  }),
}

// --- decisions ------------------------------------------------------------------------------

type Evaluated = AuthzenDecision

/**
 * The decision routes (AuthZEN evaluation(s), native check and check/batch): pure functions of
 * the caller and validated input, mounted on Koa below and run by the decision fast lane
 * (decision-lane.ts) from the same declarations, so both answer identically.
 */
export function decisionRoutes(decide: Decider): Route[] {
  /**
   * AuthZEN names no store: the request's `context.store` picks one, else the caller's only
   * permitted store, else `default`.
   */
  const authzenStore = (caller: Caller, requested: unknown) =>
    decide.storeOf(
      useStore(
        caller,
        typeof requested === 'string' ? requested : caller.stores?.length === 1 ? caller.stores[0]! : 'default',
      ),
    )

  /**
   * One entry of a batch. AuthZEN 1.0 (Access Evaluations API): an error in one evaluation
   * (an invalid entry, an unknown or forbidden store, a request the store cannot map) is that
   * entry's `decision: false` with the error in its context; the others are still answered.
   */
  function evaluateEntry(caller: Caller, req: EvaluationsRequest, entry: unknown, i: number): Evaluated {
    try {
      const parsed = partialEvaluation.safeParse(entry)
      if (!parsed.success) {
        throw badRequest(
          'invalid_request',
          parsed.error.issues
            .map((x) => `evaluations[${i}]${x.path.map((p) => `.${String(p)}`).join('')}: ${x.message}`)
            .join('; '),
        )
      }
      const m = mergeDefaults(req, parsed.data, i)
      if (typeof m === 'string') throw badRequest('invalid_request', m)
      return decide.evaluate(authzenStore(caller, m.context?.store), m)
    } catch (err) {
      if (!(err instanceof AppError) || !err.expose) throw err
      return { decision: false, context: { error: { status: err.status, code: err.code, message: err.message } } }
    }
  }

  const page = (r: SearchAnswer) => ({ next_token: r.nextToken, count: r.values.length })

  const c = authzContracts
  return [
    pureRoute(c.evaluation, ({ caller, body }) => decide.evaluate(authzenStore(caller, body.context?.store), body)),
    pureRoute(c.evaluations, ({ caller, body: req }) => {
      const entries = req.evaluations ?? []
      if (!entries.length) {
        // §7.1: without an evaluations array the request is a single evaluation.
        const single = mergeDefaults(req, {}, 0)
        if (typeof single === 'string')
          throw badRequest('invalid_request', single.replace('evaluations[0]', 'the request'))
        return decide.evaluate(authzenStore(caller, single.context?.store), single)
      }
      const semantic = req.options?.evaluations_semantic ?? 'execute_all'
      const results: Evaluated[] = []
      for (const [i, entry] of entries.entries()) {
        const r = evaluateEntry(caller, req, entry, i)
        results.push(r)
        if ((semantic === 'deny_on_first_deny' && !r.decision) || (semantic === 'permit_on_first_permit' && r.decision))
          break
      }
      return { evaluations: results }
    }),
    pureRoute(c.check, ({ params, body }) => decide.check(params.store, body.request), storeGuard),
    pureRoute(
      c.checkBatch,
      ({ params, body }) => {
        const s = decide.storeOf(params.store)
        return {
          version: s.version,
          results: body.requests.map((r, i) => {
            const d = decide.check(params.store, r, `requests[${i}]`)
            return { allowed: d.allowed, matched: d.matched }
          }),
        }
      },
      storeGuard,
    ),
    // AuthZEN 1.0 §8-§10: the searched part's id (or the action) is what the search fills in
    pureRoute(c.searchSubject, ({ caller, body }) => {
      const r = searchStore(
        authzenStore(caller, body.context?.store),
        'subject',
        { ...body, subject: { ...body.subject, id: '' } },
        body.page,
      )
      return { results: r.values.map((id) => ({ type: body.subject.type, id })), page: page(r) }
    }),
    pureRoute(c.searchResource, ({ caller, body }) => {
      const r = searchStore(
        authzenStore(caller, body.context?.store),
        'resource',
        { ...body, resource: { ...body.resource, id: '' } },
        body.page,
      )
      return { results: r.values.map((id) => ({ type: body.resource.type, id })), page: page(r) }
    }),
    pureRoute(c.searchAction, ({ caller, body }) => {
      const r = searchStore(
        authzenStore(caller, body.context?.store),
        'action',
        { ...body, action: { name: '' } },
        body.page,
      )
      return { results: r.values.map((name) => ({ name })), page: page(r) }
    }),
  ]
}

// --- everything else ------------------------------------------------------------------------

function snapshotBody(s: Awaited<ReturnType<PolicyStores['current']>>) {
  return {
    name: s.store,
    version: s.version,
    model: s.model,
    policy: s.lines,
    options: s.options,
    author: s.author,
    reason: s.reason,
    created_at: s.createdAt,
  }
}

/** Listings and store management: the routes that need the stores service or the Koa context. */
function storeRoutes(deps: AuthzRouteDeps): Route[] {
  const c = authzContracts
  const { stores, decide } = deps
  return [
    // AuthZEN §9: PDP metadata.
    route(c.configuration, () => ({
      policy_decision_point: deps.publicUrl,
      access_evaluation_endpoint: `${deps.publicUrl}/access/v1/evaluation`,
      access_evaluations_endpoint: `${deps.publicUrl}/access/v1/evaluations`,
      search_subject_endpoint: `${deps.publicUrl}/access/v1/search/subject`,
      search_resource_endpoint: `${deps.publicUrl}/access/v1/search/resource`,
      search_action_endpoint: `${deps.publicUrl}/access/v1/search/action`,
    })),
    route(
      c.permissions,
      async ({ params, query }) => {
        const s = decide.storeOf(params.store)
        return {
          store: s.name,
          version: s.version,
          subject: params.subject,
          permissions: await s.engine.implicitPermissions(params.subject, query.domain),
        }
      },
      storeGuard,
    ),
    route(
      c.roleUsers,
      async ({ params, query }) => {
        const s = decide.storeOf(params.store)
        return {
          store: s.name,
          version: s.version,
          role: params.role,
          users: await s.engine.usersForRole(params.role, query.domain),
        }
      },
      storeGuard,
    ),
    route(c.listStores, async ({ caller }) => {
      const list = (await stores.list()).filter((s) => mayUseStore(caller, s.name))
      return {
        stores: list.map((s) => ({
          name: s.name,
          description: s.description,
          version: s.version,
          updated_at: s.updatedAt,
        })),
      }
    }),
    route(c.createStore, async ({ caller, body }) => {
      useStore(caller, body.name)
      const version = await stores.create(body, who(caller), body.reason)
      return reply(201, { name: body.name, version }, { Location: `/authz/v1/stores/${body.name}` })
    }),
    route(
      c.getStore,
      async ({ params }) => {
        const snap = await stores.current(params.store)
        return reply(200, snapshotBody(snap), { ETag: `"${snap.version}"` })
      },
      storeGuard,
    ),
    // A change: add/remove lines, replace the policy, the model or the options. If-Match (or
    // based_on) makes it conditional on the version the caller looked at.
    route(
      c.changeStore,
      async ({ caller, params, body }, ctx) => {
        const ifMatch = /^"?(\d+)"?$/.exec(ctx.get('if-match'))?.[1]
        const basedOn = body.based_on ?? (ifMatch ? Number(ifMatch) : undefined)
        const { reason, based_on: _b, ...change } = body
        const r = await stores.change(params.store, change, who(caller), reason, basedOn)
        return reply(
          r.changed ? 201 : 200,
          { name: params.store, version: r.version, changed: r.changed },
          { ETag: `"${r.version}"` },
        )
      },
      storeGuard,
    ),
    ...versionRoutes(deps),
  ]
}

/** A store's versions: listed, read (JSON or CSV), compared, rolled back to. */
function versionRoutes(deps: AuthzRouteDeps): Route[] {
  const c = authzContracts
  const { stores } = deps
  return [
    route(
      c.listVersions,
      async ({ params }) => {
        await stores.current(params.store) // 404 for an unknown store
        const versions = await stores.versions(params.store)
        return {
          store: params.store,
          versions: versions.map((v) => ({
            version: v.version,
            author: v.author,
            reason: v.reason,
            lines: v.lineCount,
            created_at: v.createdAt,
          })),
        }
      },
      storeGuard,
    ),
    route(
      c.getVersion,
      async ({ params }, ctx) => {
        if (ctx.accepts('json', 'text/csv') === 'text/csv') {
          ctx.type = 'text/csv'
          return stores.exportCsv(params.store, params.version)
        }
        return snapshotBody(await stores.version(params.store, params.version))
      },
      storeGuard,
    ),
    route(
      c.versionCsv,
      async ({ params }, ctx) => {
        // Looked up first: only an existing store's name (ASCII by its rules) goes into the header;
        // any other text there made Node refuse the header, a 500.
        const csv = await stores.exportCsv(params.store, params.version)
        ctx.type = 'text/csv'
        ctx.set('Content-Disposition', `attachment; filename="${params.store}-v${params.version}.csv"`)
        return csv
      },
      storeGuard,
    ),
    route(c.diff, ({ params, query }) => stores.diff(params.store, query.from, query.to), storeGuard),
    route(
      c.rollback,
      async ({ caller, params, body }) => {
        const version = await stores.rollback(params.store, body.to, who(caller), body.reason)
        return reply(201, { name: params.store, version, rolled_back_to: body.to })
      },
      storeGuard,
    ),
  ]
}

/** Every route of the policy decision point, in mount order. */
export function authzRoutes(deps: AuthzRouteDeps): Route[] {
  const [configuration, ...rest] = storeRoutes(deps)
  return [configuration!, ...decisionRoutes(deps.decide), ...rest]
}

/**
 * The policy decision point over HTTP:
 * - OpenID AuthZEN Authorization API 1.0 at /.well-known/authzen-configuration,
 *   /access/v1/evaluation(s) and /access/v1/search/{subject,resource,action} (scope authz:check);
 * - the native check API and listings under /authz/v1/stores/{store} (scope authz:check);
 * - store management and versions under /authz/v1/stores (scope authz:admin).
 * Decision requests report W3C Server-Timing (`pdp;dur=`) for PEPs and bench/.
 */
export function authzRouter(deps: AuthzRouteDeps) {
  return mountRoutes(new Router(), authzRoutes(deps), {
    bearerSchemes: deps.bearerSchemes,
    management: deps.management,
  })
}
