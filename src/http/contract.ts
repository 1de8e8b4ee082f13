import type Router from '@koa/router'
import type { Context, Middleware, Next } from 'koa'
import { z } from 'zod'
import { AppError } from '../errors.ts'
import { readForm, readJson } from './body.ts'
import { authenticate, callerOf, requireScope, type BearerScheme, type Caller } from './middleware/authn.ts'

/**
 * Route contracts: one declaration per endpoint (method, path, who may call it, params, query,
 * body, responses) from which the router is mounted (mountRoutes), input is validated, the
 * decision fast lane finds its routes (matchRoute / parseInput) and the OpenAPI document is
 * generated (openapi.ts). Imports no feature. See docs/architecture.md.
 */

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete'
/** The BearerScheme names (oidc/callers.ts, apikeys/scheme.ts). */
export type SchemeName = 'access_token' | 'api_key'

export interface Auth {
  /** any one of these scopes (`admin` holds every scope) */
  scopes: readonly string[]
  /** how the caller may prove who it is; default both */
  schemes?: readonly SchemeName[]
  /** behind MANAGEMENT_ALLOWED_IPS, checked ahead of authentication */
  management?: boolean
  /**
   * accepts the admin console's user tokens (caller kind `user`): only for routes whose handler
   * decides every action through the PDP (the admin API)
   */
  users?: boolean
}

export interface ResponseSpec {
  description: string
  /** a zod schema for a JSON body, or a media type for a non-JSON one */
  body?: z.ZodType
  /** non-JSON media types the response may take (text/csv, text/html, text/plain ...) */
  media?: readonly string[]
  headers?: Readonly<Record<string, string>>
}

export interface BodySpec {
  schema: z.ZodType
  /** bytes; default 1 MiB */
  limit?: number
  /** an absent body (no Content-Length, no Transfer-Encoding) reads as `{}` */
  optional?: boolean
  /** also accepted as application/x-www-form-urlencoded */
  form?: boolean
}

type AnyObject = z.ZodType<Record<string, unknown>, Record<string, unknown>>

export interface RouteContract {
  operationId: string
  method: Method
  /** Koa style: /authz/v1/stores/:store */
  path: string
  summary: string
  description?: string
  tags: readonly string[]
  auth: Auth | 'public'
  params?: AnyObject
  query?: AnyObject
  body?: BodySpec
  /** documented request headers (name -> description) */
  headers?: Readonly<Record<string, string>>
  responses: Readonly<Record<number, ResponseSpec>>
  /** Cache-Control: no-store on success (errors always carry it) */
  noStore?: boolean
  /** W3C Server-Timing metric name: the time spent answering, on success */
  timing?: string
}

/** Declares a contract; `const` keeps the literal types the handler's input is derived from. */
export const defineRoute = <const C extends RouteContract>(c: C): C => c

type Out<S> = S extends z.ZodType ? z.output<S> : Record<string, never>

/** What a handler receives: validated, typed input and the authenticated caller. */
export interface RouteInput<C extends RouteContract> {
  caller: C['auth'] extends 'public' ? Caller | undefined : Caller
  params: Out<C['params']>
  query: Out<C['query']>
  body: C['body'] extends BodySpec ? z.output<C['body']['schema']> : undefined
}

/** A handler's answer with a status or headers other than the contract's default. */
export class Reply {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {}
}
export const reply = (status: number, body: unknown, headers?: Record<string, string>) =>
  new Reply(status, body, headers)

/**
 * A contract bound to its handler. `pure` routes answer from their input alone (no Koa
 * context), so the decision fast lane can run them on the raw Node request.
 */
export interface Route<C extends RouteContract = RouteContract> {
  contract: C
  /**
   * Runs after authentication, before path parameters are validated and the body is read:
   * authority that depends on the path (e.g. a caller limited to some policy stores).
   */
  authorize?: (input: { caller: Caller; params: Readonly<Record<string, string>> }) => void
  handle: (input: RouteInput<C>, ctx: Context) => unknown
  pure?: (input: RouteInput<C>) => unknown
}

export function route<const C extends RouteContract>(
  contract: C,
  handle: (input: RouteInput<C>, ctx: Context) => unknown,
  opts: { authorize?: Route<C>['authorize'] } = {},
): Route<C> {
  return { contract, handle, ...opts }
}

/** A route whose answer depends only on its input (see Route.pure). */
export function pureRoute<const C extends RouteContract>(
  contract: C,
  handle: (input: RouteInput<C>) => unknown,
  opts: { authorize?: Route<C>['authorize'] } = {},
): Route<C> {
  return { contract, handle: (input) => handle(input), pure: handle, ...opts }
}

// --- validation -----------------------------------------------------------------------------

export interface FieldIssue {
  in: 'path' | 'query' | 'body'
  /** dotted path of the field; empty for the whole part */
  field: string
  message: string
}

function issuesOf(where: FieldIssue['in'], error: z.ZodError): FieldIssue[] {
  return error.issues.flatMap((i) => {
    const at = i.path.map(String)
    // one entry per unknown field, named, rather than one for the object that holds them
    if (i.code === 'unrecognized_keys')
      return i.keys.map((k) => ({ in: where, field: [...at, k].join('.'), message: 'not a field of this request' }))
    return [{ in: where, field: at.join('.'), message: i.message }]
  })
}

const fallback: Record<FieldIssue['in'], string> = { path: 'path', query: 'query', body: 'body' }

/**
 * One 400 for every bad field at once: `invalid_request`, a message naming each field
 * (`name: Too small; level: Invalid option`) and the same list as structured `details.fields`.
 */
export function invalidInput(issues: readonly FieldIssue[]) {
  return new AppError('invalid_request', issues.map((i) => `${i.field || fallback[i.in]}: ${i.message}`).join('; '), {
    status: 400,
    details: { fields: issues },
  })
}

function parsePart(
  where: FieldIssue['in'],
  schema: z.ZodType | undefined,
  value: unknown,
  issues: FieldIssue[],
): unknown {
  if (!schema) return where === 'body' ? undefined : {}
  const r = schema.safeParse(value)
  if (r.success) return r.data
  issues.push(...issuesOf(where, r.error))
  return undefined
}

/** Validates path parameters alone (before the body is read). */
export function parseParams<C extends RouteContract>(c: C, params: Record<string, string>): Out<C['params']> {
  const issues: FieldIssue[] = []
  const out = parsePart('path', c.params, params, issues)
  if (issues.length) throw invalidInput(issues)
  return out as Out<C['params']>
}

/** Validates query and body together, so a 400 lists every bad field of both. */
export function parseQueryAndBody<C extends RouteContract>(c: C, query: unknown, body: unknown) {
  const issues: FieldIssue[] = []
  const q = parsePart('query', c.query, query, issues)
  const b = parsePart('body', c.body?.schema, body, issues)
  if (issues.length) throw invalidInput(issues)
  return { query: q as Out<C['query']>, body: b as RouteInput<C>['body'] }
}

// --- matching (for the decision fast lane) ----------------------------------------------------

const paramNames = (path: string) => [...path.matchAll(/:(\w+)/g)].map((m) => m[1]!)

function pathPattern(path: string): RegExp {
  const source = path
    .split('/')
    .map((seg) => (seg.startsWith(':') ? '([^/]+)' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/')
  return new RegExp(`^${source}$`)
}

/** Finds the route for a method and a path (no query string), with its decoded path params. */
export function routeMatcher(routes: readonly Route[]) {
  const compiled = routes.map((r) => ({ r, re: pathPattern(r.contract.path), names: paramNames(r.contract.path) }))
  return (method: string, path: string): { route: Route; params: Record<string, string> } | undefined => {
    const m = method.toLowerCase()
    for (const { r, re, names } of compiled) {
      if (r.contract.method !== m) continue
      const hit = re.exec(path)
      if (!hit) continue
      try {
        return { route: r, params: Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(hit[i + 1]!)])) }
      } catch {
        return undefined // malformed percent-encoding: let Koa answer
      }
    }
    return undefined
  }
}

// --- mounting --------------------------------------------------------------------------------

export interface MountDeps {
  bearerSchemes: readonly BearerScheme[]
  /** MANAGEMENT_ALLOWED_IPS guard (middleware/management-ips.ts) for routes with auth.management */
  management?: Middleware
}

const pass: Middleware = (_ctx, next) => next()

/** JSON (or form, where the contract allows it) body as the contract describes it. */
async function readBody(ctx: Context, spec: BodySpec | undefined): Promise<unknown> {
  if (!spec) return undefined
  if (spec.optional && !ctx.request.length && !ctx.get('transfer-encoding')) return {}
  if (spec.form && ctx.is('application/x-www-form-urlencoded')) return readForm(ctx, spec.limit)
  return readJson(ctx, spec.limit)
}

/** The successful status when the handler does not choose one: the contract's only 2xx. */
function defaultStatus(c: RouteContract): number | undefined {
  const ok = Object.keys(c.responses)
    .map(Number)
    .filter((s) => s >= 200 && s < 300)
  return ok.length === 1 && ok[0] !== 200 ? ok[0] : undefined
}

function handlerOf(r: Route): Middleware {
  const c = r.contract
  const status = defaultStatus(c)
  return async (ctx) => {
    const caller = callerOf(ctx)
    if (caller && r.authorize) r.authorize({ caller, params: ctx.params as Record<string, string> })
    const params = parseParams(c, ctx.params as Record<string, string>)
    const raw = await readBody(ctx, c.body)
    const { query, body } = parseQueryAndBody(c, ctx.query, raw)
    const out = await r.handle({ caller: caller as Caller, params, query, body } as RouteInput<RouteContract>, ctx)
    if (out instanceof Reply) {
      ctx.status = out.status
      for (const [k, v] of Object.entries(out.headers)) ctx.set(k, v)
      if (out.body !== undefined) ctx.body = out.body
    } else if (out !== undefined) {
      if (status) ctx.status = status
      ctx.body = out
    }
    if (c.noStore) ctx.set('Cache-Control', 'no-store')
  }
}

const timed =
  (metric: string): Middleware =>
  async (ctx: Context, next: Next) => {
    const started = performance.now()
    await next()
    ctx.set('Server-Timing', `${metric};dur=${(performance.now() - started).toFixed(3)}`)
  }

/**
 * Mounts routes on a router: for each, in this order, Server-Timing, the management IP
 * allowlist, authentication (a credential of a scheme the route does not take is a 401), the
 * scope check (requireScope: 401 without a caller, 403 insufficient_scope), the route's own
 * authority check, path parameters, then query and body
 * (one 400 listing every bad field), then the handler.
 */
export function mountRoutes(router: Router, routes: readonly Route[], deps: MountDeps): Router {
  const authn = authenticate(deps.bearerSchemes)
  const mgmt = deps.management ?? pass
  const authnBy = (schemes: readonly SchemeName[] | undefined) =>
    schemes ? authenticate(deps.bearerSchemes.filter((s) => (schemes as readonly string[]).includes(s.name))) : authn
  for (const r of routes) {
    const c = r.contract
    const chain: Middleware[] = []
    if (c.timing) chain.push(timed(c.timing))
    if (c.auth !== 'public') {
      if (c.auth.management) chain.push(mgmt)
      chain.push(authnBy(c.auth.schemes), requireScope(c.auth.scopes, { users: c.auth.users }))
    }
    chain.push(handlerOf(r))
    router.register(c.path, [c.method.toUpperCase()], chain, { name: c.operationId })
  }
  return router
}
