import crypto from 'node:crypto'
import type { Redis } from 'ioredis'

/** What the console may show: learned from the admin API's own answers at sign-in. */
export interface Capabilities {
  users: boolean
  /** unlock / reset MFA / reset password by email (helpdesk) without reading users */
  userCare: boolean
  clients: boolean
  roles: boolean
  /** each learned from the admin API like the four above (service.ts); absent in older sessions */
  keys?: boolean
  keysRotate?: boolean
  apiKeys?: boolean
  apiKeysWrite?: boolean
  resources?: boolean
  policies?: boolean
  audit?: boolean
  reviews?: boolean
  containUser?: boolean
  containClient?: boolean
}

export interface ConsoleSession {
  id: string
  userId: string
  email: string
  /** the operator's access token for our API (scope `admin`) */
  token: string
  /** ms since epoch; the session ends with its token */
  expiresAt: number
  csrf: string
  can: Capabilities
  /** a one-shot secret to show on the next page (a generated password, a client secret) */
  flash?: { title: string; secret: string; label: string; note?: string }
  /** what the last action did, shown once on the next page (never taken from the URL) */
  notice?: string
}

/** A pending sign-in: PKCE verifier, state and nonce, kept until the callback. */
export interface PendingLogin {
  state: string
  nonce: string
  verifier: string
  expiresAt: number
}

/**
 * The database rows oidc-provider's short-lived models use (oidc/queries/payloads.ts), taken
 * structurally: console sessions are rows of model `ConsoleSession` there when Redis is not set.
 */
export interface PayloadStore {
  upsert(row: {
    model: string
    id: string
    payload: string
    grantId: null
    userCode: null
    uid: null
    expiresAt: Date
    consumedAt: null
  }): Promise<void>
  find(model: string, id: string): Promise<{ payload: string } | null>
  destroy(model: string, id: string): Promise<void>
}

/**
 * Server-side console sessions: the browser holds a random id only. In Redis (with a TTL) when
 * REDIS_URL is set, else in the database (expired rows are pruned with oidc-provider's), so
 * every instance and every worker sees them.
 */
export function consoleSessions(opts: { redis?: Redis; prefix: string; db: PayloadStore }) {
  const key = (kind: string, id: string) => `${opts.prefix}console:${kind}:${id}`
  const model = (kind: string) => `Console:${kind}`
  async function put(kind: string, id: string, value: unknown, expiresAt: number) {
    const ttl = Math.max(1, Math.ceil((expiresAt - Date.now()) / 1000))
    if (opts.redis) await opts.redis.set(key(kind, id), JSON.stringify(value), 'EX', ttl)
    else
      await opts.db.upsert({
        model: model(kind),
        id,
        payload: JSON.stringify(value),
        grantId: null,
        userCode: null,
        uid: null,
        expiresAt: new Date(expiresAt),
        consumedAt: null,
      })
  }
  async function get<T extends { expiresAt: number }>(kind: string, id: string | undefined): Promise<T | undefined> {
    if (!id || !/^[\w-]{20,100}$/.test(id)) return undefined
    const raw = opts.redis ? await opts.redis.get(key(kind, id)) : (await opts.db.find(model(kind), id))?.payload
    const v = raw ? (JSON.parse(raw) as T) : undefined
    return v && v.expiresAt > Date.now() ? v : undefined
  }
  async function drop(kind: string, id: string) {
    if (opts.redis) await opts.redis.del(key(kind, id))
    else await opts.db.destroy(model(kind), id)
  }
  const newId = () => crypto.randomBytes(32).toString('base64url')
  return {
    newId,
    async create(s: Omit<ConsoleSession, 'id' | 'csrf'>): Promise<ConsoleSession> {
      const session = { ...s, id: newId(), csrf: crypto.randomBytes(24).toString('base64url') }
      await put('session', session.id, session, session.expiresAt)
      return session
    },
    find: (id: string | undefined) => get<ConsoleSession>('session', id),
    save: (s: ConsoleSession) => put('session', s.id, s, s.expiresAt),
    end: (id: string) => drop('session', id),
    async pending(p: PendingLogin) {
      const id = newId()
      await put('login', id, p, p.expiresAt)
      return id
    },
    async takePending(id: string | undefined) {
      const p = await get<PendingLogin>('login', id)
      if (p && id) await drop('login', id)
      return p
    },
  }
}
export type ConsoleSessions = ReturnType<typeof consoleSessions>
