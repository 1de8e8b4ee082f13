import crypto from 'node:crypto'
import type { Redis } from 'ioredis'
import type { Context, Middleware } from 'koa'
import type { Logger } from 'pino'
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible'
import { errorPage } from '../views/layout.ts'
import { t } from '../views/i18n.ts'
import type { ClientIp } from './client-ip.ts'
import { oauthForm } from './oauth-request.ts'
import { RATE_CLASSES, rateClassOf, type RateClass, type RateLimit } from './rate-limit-classes.ts'

export interface RateLimitDeps {
  /** budget per class name (config.RATE_LIMITS); null or absent: not limited */
  limits: Readonly<Record<string, RateLimit | null>>
  /** shared counters for every instance; memory (per instance) without */
  redis?: Redis
  prefix: string
  clientIp: ClientIp
  /** name of our sign-in session cookie (the account pages' session) */
  sessionCookie: string
  /** portcullis_rate_limited_total{class} */
  refused: { inc(labels: { class: string }): void }
  logger: Logger
  classes?: readonly RateClass[]
  /** longest wait for Redis before this instance counts in memory instead (ms) */
  redisWaitMs?: number
}

/** Takes one point for `key`; rejects with a RateLimiterRes when the budget is spent. */
type Take = (key: string) => Promise<unknown>

const hash = (s: string) => crypto.createHash('sha256').update(s).digest('base64url').slice(0, 22)

/** The OAuth client a request authenticates as or claims; undefined when it names none. */
function claimedClient(ctx: Context, form: URLSearchParams): string | undefined {
  // RFC 6749 §2.3.1: client_id:client_secret, each form-urlencoded, in HTTP Basic.
  const basic = /^Basic +([A-Za-z0-9+/=]+)$/i.exec(ctx.get('authorization'))?.[1]
  if (basic) {
    const id = Buffer.from(basic, 'base64').toString('utf8').split(':')[0]
    if (id) {
      try {
        return decodeURIComponent(id.replace(/\+/g, ' '))
      } catch {
        return id
      }
    }
  }
  const id = form.get('client_id')
  if (id) return id
  // RFC 7523 §3: a client assertion's sub is the client id (verified later by oidc-provider).
  const assertion = form.get('client_assertion')?.split('.')[1]
  if (assertion) {
    try {
      const sub = (JSON.parse(Buffer.from(assertion, 'base64url').toString('utf8')) as { sub?: unknown }).sub
      if (typeof sub === 'string' && sub) return sub
    } catch {
      /* not a JWT: keyed by address */
    }
  }
  return undefined
}

/**
 * A class keyed by client, credential or session also holds each address to this many times
 * its budget: those keys are chosen by the caller, and a flood that invents a new client id,
 * token or cookie per request would otherwise never run out.
 */
export const ADDRESS_FACTOR = 10

async function keyOf(c: RateClass, ctx: Context, deps: RateLimitDeps, ip: string): Promise<string> {
  switch (c.key) {
    case 'client': {
      const id = claimedClient(ctx, await oauthForm(ctx))
      return id ? `client:${hash(id)}` : ip
    }
    case 'credential': {
      const auth = ctx.get('authorization')
      return auth ? `cred:${hash(auth)}` : ip
    }
    case 'session': {
      // an attacker without a session is counted by address; sessions come only from sign-in,
      // which has its own limits
      const session = ctx.cookies.get(deps.sessionCookie, { signed: false })
      return session ? `session:${hash(session)}` : ip
    }
    default:
      return ip
  }
}

function refuse(ctx: Context, c: RateClass, retryAfter: number) {
  const message = `too many requests; try again in ${retryAfter} second${retryAfter === 1 ? '' : 's'}`
  ctx.status = 429
  ctx.set('Retry-After', String(retryAfter)) // RFC 9110 §10.2.3, RFC 6585 §4
  ctx.set('Cache-Control', 'no-store')
  const page = c.answer === 'page' || (c.answer === 'negotiate' && ctx.accepts('json', 'html') === 'html')
  if (page) {
    ctx.type = 'html'
    ctx.body = errorPage(t('error.tooManyTitle'), t('error.tooMany', { count: retryAfter }))
  } else {
    // RFC 6749 has no rate-limit code; temporarily_unavailable (§4.1.2.1) is what OAuth
    // clients already treat as "retry later". Our own APIs use their error catalogue.
    ctx.body = { error: c.answer === 'oauth' ? 'temporarily_unavailable' : 'rate_limited', error_description: message }
  }
}

/**
 * Rate limits for every request, by endpoint class (src/http/rate-limit-classes.ts): one
 * rate-limiter-flexible limiter per class, in Redis when configured (every instance draws on
 * the same budget) and in memory otherwise. When Redis fails or does not answer within
 * redisWaitMs, each instance falls back to its own in-memory budget rather than refusing or
 * hanging everyone.
 */
export function rateLimits(deps: RateLimitDeps): Middleware {
  const classes = deps.classes ?? RATE_CLASSES
  const waitMs = deps.redisWaitMs ?? 1000
  const make = (name: string, points: number, duration: number): Take => {
    const base = { points, duration, keyPrefix: `${deps.prefix}rl:${name}` }
    const memory: RateLimiterAbstract = new RateLimiterMemory(base)
    if (!deps.redis) return (key) => memory.consume(key)
    const shared = new RateLimiterRedis({ ...base, storeClient: deps.redis, insuranceLimiter: memory })
    return (key) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          deps.logger.warn({ class: name }, 'rate limiter: Redis did not answer in time; counting in memory')
          memory.consume(key).then(resolve, reject)
        }, waitMs)
        shared
          .consume(key)
          .then(resolve, reject)
          .finally(() => clearTimeout(timer))
      })
  }
  const limiters = new Map<string, { byKey: Take; byAddress?: Take }>()
  for (const c of classes) {
    const limit = deps.limits[c.name]
    if (!limit) continue
    limiters.set(c.name, {
      byKey: make(c.name, limit.points, limit.duration),
      ...(c.key === 'ip' ? {} : { byAddress: make(`${c.name}:ip`, limit.points * ADDRESS_FACTOR, limit.duration) }),
    })
  }
  return async (ctx, next) => {
    const c = rateClassOf(ctx.method, ctx.path, classes)
    const limiter = limiters.get(c.name)
    if (!limiter) return next()
    const ip = `ip:${deps.clientIp(ctx)}`
    const key = await keyOf(c, ctx, deps, ip)
    try {
      if (limiter.byAddress && key !== ip) await limiter.byAddress(ip)
      await limiter.byKey(key)
    } catch (e) {
      if (!(e instanceof RateLimiterRes)) {
        deps.logger.warn({ err: e, class: c.name }, 'rate limiter failed; request let through')
        return next()
      }
      deps.refused.inc({ class: c.name })
      refuse(ctx, c, Math.max(1, Math.ceil(e.msBeforeNext / 1000)))
      return
    }
    await next()
  }
}
