import crypto from 'node:crypto'
import type Router from '@koa/router'
import type { Context, Middleware } from 'koa'
import { readFormParams } from '../http/body.ts'
import { safeEqual } from '../crypto/constant-time.ts'
import type { SessionRecord } from '../identity/queries/sessions.ts'
import type { UserRecord } from '../identity/queries.ts'
import type { RequestMeta } from '../identity/password-reset.ts'
import { accountErrors } from './errors.ts'

/** Who made a request, for audit records: the same three fields on every page. */
export type PageMeta = Required<Pick<RequestMeta, 'ip' | 'requestId'>> & { userAgent: string | null }

/** What a step behind the sign-in session receives, resolved once by the kit. */
export interface SignedIn {
  s: SessionRecord
  user: UserRecord
  meta: PageMeta
  /** the CSRF token for this session's forms */
  csrf: string
  /** the posted form, last value of a repeated field (empty for GET and JSON steps) */
  form: Record<string, string>
  /** the posted form with repeated fields kept (checkboxes) */
  params: URLSearchParams
}

/**
 * One page step: a method, a path and its handler. A POST proves it came from our own page by
 * the form's `csrf` field (`csrf: 'form'`, the default) or, for the passkey ceremony's JSON
 * calls, by the `X-CSRF-Token` header (`csrf: 'header'`); the body is read before the check.
 */
export interface PageStep {
  method: 'get' | 'post'
  path: string
  csrf?: 'form' | 'header'
  handle: (ctx: Context, req: SignedIn) => unknown
}

/** A step that needs no sign-in session (the sign-in round trip itself). */
export interface PublicStep {
  method: 'get' | 'post'
  path: string
  public: true
  handle: (ctx: Context, meta: PageMeta) => unknown
}

export interface PageKitDeps {
  users: { findById: (id: string) => Promise<UserRecord | null> }
  sessions: { resolve: (token: string | undefined, meta?: { ip?: string }) => Promise<SessionRecord | undefined> }
  /** the sign-in session cookie's name (identity/strong-login.ts) */
  cookieName: string
  clientIp: (ctx: Context) => string
  csrfKey: Buffer
  /** where a GET without a session is sent to sign in */
  signInPath: string
}

/**
 * The page toolkit of the account pages, applied once per router by `mountPages`: every answer
 * is `no-store`; each step gets the request metadata, the signed-in session and user (a GET
 * without one is sent to sign in, anything else is a 401), and the posted form after its CSRF
 * token (bound to the session) was checked. Steps then only do their own work.
 */
export function pageKit(deps: PageKitDeps) {
  const csrfFor = (sessionId: string) =>
    crypto.createHmac('sha256', deps.csrfKey).update(`account:${sessionId}`).digest('base64url')
  const checkCsrf = (s: SessionRecord, token: string | undefined) => {
    if (!safeEqual(token ?? '', csrfFor(s.id))) throw accountErrors.csrf()
  }
  const meta = requestMeta(deps.clientIp)

  /** The live session and its (enabled) user, or undefined. */
  async function session(ctx: Context) {
    const token = ctx.cookies.get(deps.cookieName, { signed: false }) ?? undefined
    const s = await deps.sessions.resolve(token, { ip: deps.clientIp(ctx) })
    const user = s ? await deps.users.findById(s.userId) : null
    if (!s || !user || user.disabled) return undefined
    return { s, user }
  }

  /** The signed-in request for a step, or undefined when the browser was sent to sign in. */
  async function signedIn(ctx: Context, step: PageStep): Promise<SignedIn | undefined> {
    const got = await session(ctx)
    if (!got) {
      if (ctx.method !== 'GET') throw accountErrors.sessionEnded()
      ctx.status = 303
      ctx.redirect(deps.signInPath)
      return undefined
    }
    let params = new URLSearchParams()
    if (step.method === 'post') {
      if (step.csrf === 'header') checkCsrf(got.s, ctx.get('x-csrf-token') || undefined)
      else {
        params = await readFormParams(ctx)
        checkCsrf(got.s, Object.fromEntries(params).csrf)
      }
    }
    return { ...got, meta: meta(ctx), csrf: csrfFor(got.s.id), form: Object.fromEntries(params), params }
  }

  /** Mounts the steps on the router, in order, with the toolkit in front of each. */
  function mountPages(router: Router, steps: readonly (PageStep | PublicStep)[]) {
    router.use(noStore)
    for (const step of steps) {
      router[step.method](step.path, async (ctx) => {
        if ('public' in step) return void (await step.handle(ctx, meta(ctx)))
        const req = await signedIn(ctx, step)
        if (req) await step.handle(ctx, req)
      })
    }
    return router
  }

  return { mountPages, session, csrfFor, meta }
}
export type PageKit = ReturnType<typeof pageKit>

/** Every account page and answer must stay out of caches (they show the user's own data). */
const noStore: Middleware = async (ctx, next) => {
  ctx.set('Cache-Control', 'no-store')
  await next()
}

/** An HTML page (no-store comes from the kit). */
export function sendPage(ctx: Context, body: string, status = 200) {
  ctx.type = 'html'
  ctx.status = status
  ctx.body = body
}

/** 303 to `to`: the answer to a form post that worked. */
export function seeOther(ctx: Context, to: string) {
  ctx.status = 303
  ctx.redirect(to)
}

/**
 * The page kit of the pages behind mailed links (and the forms that lead to them): they carry a
 * single-use token in their query string, so no Referer may carry it to another site and no
 * cache may keep the page. Applied once per router.
 */
export const linkPageHeaders: Middleware = async (ctx, next) => {
  ctx.set('Cache-Control', 'no-store')
  ctx.set('Referrer-Policy', 'no-referrer')
  await next()
}

/** The request metadata audit records carry, for routers without a session. */
export const requestMeta =
  (clientIp: (ctx: Context) => string) =>
  (ctx: Context): PageMeta => ({
    ip: clientIp(ctx),
    userAgent: ctx.get('user-agent') || null,
    requestId: ctx.state.requestId as string,
  })
