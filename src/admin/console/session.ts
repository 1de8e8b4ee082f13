import crypto from 'node:crypto'
import type { Redis } from 'ioredis'

/** What the console may show: learned from the admin API's own answers at sign-in. */
export interface Capabilities {
  users: boolean
  /** unlock / reset MFA / reset password by email (helpdesk) without reading users */
  userCare: boolean
  clients: boolean
  roles: boolean
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
export interface PendingLogin { state: string; nonce: string; verifier: string; expiresAt: number }

/**
 * Server-side console sessions: the browser holds a random id only. In memory for a single
 * instance; in Redis (with a TTL) when REDIS_URL is set, so every instance sees them.
 */
export function consoleSessions(opts: { redis?: Redis; prefix: string }) {
  const memory = new Map<string, { value: string; expiresAt: number }>()
  const key = (kind: string, id: string) => `${opts.prefix}console:${kind}:${id}`
  async function put(kind: string, id: string, value: unknown, expiresAt: number) {
    const ttl = Math.max(1, Math.ceil((expiresAt - Date.now()) / 1000))
    if (opts.redis) await opts.redis.set(key(kind, id), JSON.stringify(value), 'EX', ttl)
    else {
      if (memory.size > 10_000) for (const [k, v] of memory) if (v.expiresAt < Date.now()) memory.delete(k)
      memory.set(key(kind, id), { value: JSON.stringify(value), expiresAt })
    }
  }
  async function get<T extends { expiresAt: number }>(kind: string, id: string | undefined): Promise<T | undefined> {
    if (!id || !/^[\w-]{20,100}$/.test(id)) return undefined
    const raw = opts.redis ? await opts.redis.get(key(kind, id)) : memory.get(key(kind, id))?.value
    const v = raw ? (JSON.parse(raw) as T) : undefined
    return v && v.expiresAt > Date.now() ? v : undefined
  }
  async function drop(kind: string, id: string) {
    if (opts.redis) await opts.redis.del(key(kind, id))
    else memory.delete(key(kind, id))
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
