import type { Context, Middleware } from 'koa'
import { AppError } from '../../errors.ts'

/** Who is calling one of portcullis's APIs, however they proved it. */
export interface Caller {
  kind: 'client' | 'api_key' | 'user'
  /** the subject: client id, user id or API key owner */
  id: string
  clientId?: string
  scopes: ReadonlySet<string>
  /** policy stores the caller is limited to; undefined = every store */
  stores?: readonly string[]
  apiKey?: { id: string; level: string }
}

/** One way to turn a bearer credential into a caller; `undefined` means "not valid". */
export interface BearerScheme {
  name: string
  /** cheap syntactic test: does this credential look like mine? */
  accepts(credential: string): boolean
  verify(credential: string, ctx: Context): Promise<Caller | undefined>
}

const challenge = (error?: string, extra = '') =>
  `Bearer realm="portcullis"${error ? `, error="${error}"` : ''}${extra}`

/**
 * Reads `Authorization: Bearer …` and sets `ctx.state.caller`. A missing header leaves the
 * caller unset (routes decide with requireScope); a present but invalid one is a 401 with the
 * RFC 6750 §3 challenge, never a fall-through to anonymous.
 */
export function authenticate(schemes: readonly BearerScheme[]): Middleware {
  return async (ctx, next) => {
    const header = ctx.get('authorization')
    if (header) {
      const m = /^Bearer +([\x21-\x7e]+)$/i.exec(header)
      if (!m) {
        ctx.set('WWW-Authenticate', challenge('invalid_request'))
        throw new AppError('invalid_request', 'Authorization must be "Bearer <token>"', { status: 401 })
      }
      const credential = m[1]!
      const scheme = schemes.find((s) => s.accepts(credential))
      const caller = scheme ? await scheme.verify(credential, ctx) : undefined
      if (!caller) {
        ctx.set('WWW-Authenticate', challenge('invalid_token'))
        throw new AppError('invalid_token', 'the access token or API key is invalid, expired or revoked', {
          status: 401,
        })
      }
      ctx.state.caller = caller
    }
    await next()
  }
}

export const callerOf = (ctx: Context): Caller | undefined => ctx.state.caller as Caller | undefined

/**
 * Whether the caller holds one of the scopes (`admin` holds them all — except for a console
 * user token, whose `admin` stands for the admin API alone, where the PDP decides each action).
 */
export const hasAnyScope = (caller: Caller, ...anyOf: string[]) =>
  anyOf.some((s) => caller.scopes.has(s)) || (caller.kind !== 'user' && caller.scopes.has('admin'))

/** 401 without a caller; 403 (insufficient_scope) unless the caller has one of the scopes. */
export function requireScope(anyOf: readonly string[], opts: { users?: boolean } = {}): Middleware {
  return async (ctx, next) => {
    const caller = callerOf(ctx)
    if (!caller) {
      ctx.set('WWW-Authenticate', challenge())
      throw new AppError('unauthorized', 'authentication required: send a bearer access token or API key', {
        status: 401,
      })
    }
    if (caller.kind === 'user' && !opts.users) {
      ctx.set('WWW-Authenticate', challenge('insufficient_scope', `, scope="${anyOf.join(' ')}"`))
      throw new AppError('insufficient_scope', 'an admin console token is accepted by the admin API (/admin/v1) only', {
        status: 403,
      })
    }
    if (!hasAnyScope(caller, ...anyOf)) {
      ctx.set('WWW-Authenticate', challenge('insufficient_scope', `, scope="${anyOf.join(' ')}"`))
      throw new AppError('insufficient_scope', `this call needs the scope ${anyOf.join(' or ')}`, { status: 403 })
    }
    await next()
  }
}

/** Whether a caller limited to some policy stores may use this one. */
export const mayUseStore = (caller: Caller, store: string) => !caller.stores || caller.stores.includes(store)
