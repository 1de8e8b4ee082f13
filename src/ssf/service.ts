import { randomUUID } from 'node:crypto'
import * as jose from 'jose'
import type { Logger } from 'pino'
import { badRequest, notFound, conflict } from '../errors.ts'
import type { AuditLog, AuditEventView } from '../audit/log.ts'
import type { KeyStore } from '../oidc/keys.ts'
import type { SsfQueries, StreamRow } from './queries.ts'
import { AUDIT_TO_EVENT, eventFor, DELIVERY_POLL, DELIVERY_PUSH, EVENTS_SUPPORTED, VERIFICATION } from './events.ts'

/** RFC 9493 subject identifiers we match on (§3.2.2 email, §3.2.5 iss_sub, §3.2.4 opaque = user id). */
export type Subject =
  | { format: 'email'; email: string }
  | { format: 'iss_sub'; iss: string; sub: string }
  | { format: 'opaque'; id: string }
export interface StreamInput {
  delivery?: { method: string; endpoint_url?: string; authorization_header?: string }
  events_requested?: string[]
  description?: string
}
interface StoredConfig {
  delivery: { method: string; endpoint_url?: string; authorization_header?: string }
  events_requested: string[]
  description?: string
}

const MAX_BACKOFF_S = 3600
const MAX_ATTEMPTS = 20
const LEASE_MS = 60_000

export function ssfService(deps: {
  q: SsfQueries
  keys: KeyStore
  audit: AuditLog
  logger: Logger
  issuer: string
  userById: (id: string) => Promise<{ id: string; email: string } | null>
  /** the push `authorization_header` is the receiver's credential: stored sealed (master key) */
  sealer: { seal: (text: string, context: string) => string; open: (sealed: string, context: string) => string }
}) {
  const { q, issuer } = deps
  const pollUrl = (id: string) => `${issuer}/ssf/v1/poll/${id}`

  function view(row: StreamRow) {
    const c = JSON.parse(row.config) as StoredConfig
    const { authorization_header: _secret, ...delivery } = c.delivery
    return {
      stream_id: row.id,
      iss: issuer,
      aud: row.clientId,
      delivery:
        c.delivery.method === DELIVERY_POLL ? { method: DELIVERY_POLL, endpoint_url: pollUrl(row.id) } : delivery,
      events_supported: [...EVENTS_SUPPORTED],
      events_requested: c.events_requested,
      // SSF 1.0 §8.1.1: what the transmitter will deliver is the intersection.
      events_delivered: c.events_requested.filter((e) => (EVENTS_SUPPORTED as readonly string[]).includes(e)),
      ...(c.description ? { description: c.description } : {}),
    }
  }

  const context = (streamId: string) => `ssf-stream:${streamId}`
  function checkDelivery(streamId: string, d: StreamInput['delivery']): StoredConfig['delivery'] {
    if (!d || d.method === DELIVERY_POLL) return { method: DELIVERY_POLL }
    if (!d.endpoint_url)
      throw badRequest('invalid_request', 'delivery.endpoint_url is required for push delivery (RFC 8935)')
    const { authorization_header, ...rest } = d
    return authorization_header
      ? { ...rest, authorization_header: deps.sealer.seal(authorization_header, context(streamId)) }
      : rest
  }

  async function own(clientId: string, streamId?: string) {
    const row = await q.streamOf(clientId)
    // a stream of another receiver is as absent as one that does not exist (SSF 1.0 §8.1.1.2)
    if (!row || (streamId !== undefined && row.id !== streamId)) throw notFound('no such stream')
    return row
  }

  async function sign(aud: string, sub_id: Record<string, unknown>, events: Record<string, unknown>) {
    const { keys } = await deps.keys.privateJwks()
    const jwk = keys.find((k) => k.alg === 'RS256') ?? keys[0]
    if (!jwk?.kid || !jwk.alg) throw new Error('no signing key for Security Event Tokens')
    const jti = randomUUID()
    // RFC 8417 §2.2: no `exp` is expected; `typ: secevent+jwt` (§2.3) keeps it from passing as an ID token.
    const set = await new jose.SignJWT({ sub_id, events })
      .setProtectedHeader({ alg: jwk.alg, kid: jwk.kid, typ: 'secevent+jwt' })
      .setIssuer(issuer)
      .setAudience(aud)
      .setIssuedAt()
      .setJti(jti)
      .sign(await jose.importJWK(jwk, jwk.alg))
    return { jti, set }
  }

  async function enqueue(row: StreamRow, sub_id: Record<string, unknown>, events: Record<string, unknown>) {
    const { jti, set } = await sign(row.clientId, sub_id, events)
    await q.enqueue(row.id, jti, set)
    if ((JSON.parse(row.config) as StoredConfig).delivery.method === DELIVERY_PUSH) void pushDue()
  }

  const matches = (s: Subject, user: { id: string; email: string }) =>
    (s.format === 'email' && s.email.toLowerCase() === user.email.toLowerCase()) ||
    (s.format === 'iss_sub' && s.iss === issuer && s.sub === user.id) ||
    (s.format === 'opaque' && s.id === user.id)

  /** An audit event → a SET for every enabled stream that requested it and added the user. */
  async function fromAudit(e: AuditEventView) {
    const mapped = eventFor(e.action, e.parsedDetails)
    if (!mapped || e.outcome !== 'success' || !e.target) return
    const user = await deps.userById(e.target)
    if (!user) return
    for (const row of await q.all()) {
      if (row.status !== 'enabled') continue
      const c = JSON.parse(row.config) as StoredConfig
      if (!c.events_requested.includes(mapped.type)) continue
      if (!(JSON.parse(row.subjects) as Subject[]).some((s) => matches(s, user))) continue
      await enqueue(
        row,
        { format: 'iss_sub', iss: issuer, sub: user.id },
        { [mapped.type]: mapped.event(Math.floor(e.time.getTime() / 1000), e.parsedDetails) },
      )
    }
  }

  let pushing: Promise<void> | undefined
  /** Push delivery (RFC 8935 §2): POST the SET; 202 is done, anything else retried with backoff. */
  async function pushOnce() {
    const streams = (await q.all()).filter(
      (s) => (JSON.parse(s.config) as StoredConfig).delivery.method === DELIVERY_PUSH && s.status === 'enabled',
    )
    if (!streams.length) return
    const byId = new Map(streams.map((s) => [s.id, JSON.parse(s.config) as StoredConfig]))
    for (const ev of await q.due([...byId.keys()], new Date())) {
      const d = byId.get(ev.streamId)!.delivery
      // one instance sends it (a lease, not a lock: a crash mid-send retries after LEASE_MS)
      if (!(await q.claim(ev.id, ev.nextAttemptAt, new Date(Date.now() + LEASE_MS)))) continue
      try {
        const res = await fetch(d.endpoint_url!, {
          method: 'POST',
          redirect: 'manual',
          signal: AbortSignal.timeout(10_000),
          headers: {
            'content-type': 'application/secevent+jwt',
            accept: 'application/json',
            ...(d.authorization_header
              ? { authorization: deps.sealer.open(d.authorization_header, context(ev.streamId)) }
              : {}),
          },
          body: ev.set,
        })
        await res.arrayBuffer().catch(() => undefined)
        // RFC 8935 §2.3: 202 accepted; a 400 with an error code is the receiver refusing this SET for good
        if (res.status === 202 || res.status === 400 || ev.attempts + 1 >= MAX_ATTEMPTS) await q.delivered(ev.id)
        else throw new Error(`receiver answered ${res.status}`)
      } catch (err) {
        const attempts = ev.attempts + 1
        await q.failed(
          ev.id,
          attempts,
          new Date(Date.now() + Math.min(MAX_BACKOFF_S, 2 ** attempts) * 1000),
          String((err as Error).message ?? err),
        )
        deps.logger.warn({ stream: ev.streamId, attempts, err }, 'SSF push delivery failed')
      }
    }
  }
  function pushDue(): Promise<void> {
    pushing ??= pushOnce()
      .catch((err) => deps.logger.error({ err }, 'SSF push failed'))
      .finally(() => {
        pushing = undefined
      })
    return pushing
  }

  return {
    configuration: () => ({
      spec_version: '1_0',
      issuer,
      jwks_uri: `${issuer}/jwks`,
      delivery_methods_supported: [DELIVERY_PUSH, DELIVERY_POLL],
      configuration_endpoint: `${issuer}/ssf/v1/stream`,
      status_endpoint: `${issuer}/ssf/v1/status`,
      add_subject_endpoint: `${issuer}/ssf/v1/subjects/add`,
      remove_subject_endpoint: `${issuer}/ssf/v1/subjects/remove`,
      verification_endpoint: `${issuer}/ssf/v1/verify`,
      critical_subject_members: ['user'],
      // events only for subjects the receiver added (SSF 1.0 §7.1)
      default_subjects: 'NONE',
      authorization_schemes: [{ spec_urn: 'urn:ietf:rfc:6749' }],
    }),
    async create(clientId: string, input: StreamInput) {
      if (await q.streamOf(clientId))
        throw conflict('stream_exists', 'this receiver already has a stream (one per client)')
      const id = randomUUID()
      const config: StoredConfig = {
        delivery: checkDelivery(id, input.delivery),
        events_requested: input.events_requested ?? [],
        ...(input.description ? { description: input.description } : {}),
      }
      const row = await q.create({ id, clientId, config: JSON.stringify(config) })
      void deps.audit.record({
        action: 'ssf.stream_created',
        outcome: 'success',
        actor: `client:${clientId}`,
        target: row.id,
        details: { delivery: config.delivery.method },
      })
      return view(row)
    },
    async list(clientId: string, streamId?: string) {
      const row = await q.streamOf(clientId)
      if (streamId !== undefined) return view(await own(clientId, streamId))
      return row ? [view(row)] : []
    },
    async update(clientId: string, streamId: string, input: StreamInput, replace: boolean) {
      const row = await own(clientId, streamId)
      const old = JSON.parse(row.config) as StoredConfig
      const config: StoredConfig = replace
        ? {
            delivery: checkDelivery(row.id, input.delivery),
            events_requested: input.events_requested ?? [],
            ...(input.description ? { description: input.description } : {}),
          }
        : {
            delivery: input.delivery ? checkDelivery(row.id, input.delivery) : old.delivery,
            events_requested: input.events_requested ?? old.events_requested,
            description: input.description ?? old.description,
          }
      const updated = await q.update(row.id, { config: JSON.stringify(config) })
      void deps.audit.record({
        action: 'ssf.stream_updated',
        outcome: 'success',
        actor: `client:${clientId}`,
        target: row.id,
        details: {},
      })
      return view(updated)
    },
    async remove(clientId: string, streamId: string) {
      const row = await own(clientId, streamId)
      await q.remove(row.id)
      void deps.audit.record({
        action: 'ssf.stream_deleted',
        outcome: 'success',
        actor: `client:${clientId}`,
        target: row.id,
        details: {},
      })
    },
    async status(clientId: string, streamId: string) {
      const row = await own(clientId, streamId)
      return { stream_id: row.id, status: row.status, ...(row.reason ? { reason: row.reason } : {}) }
    },
    async setStatus(clientId: string, streamId: string, status: string, reason?: string) {
      const row = await own(clientId, streamId)
      const updated = await q.update(row.id, { status, reason: reason ?? null })
      return { stream_id: updated.id, status: updated.status, ...(updated.reason ? { reason: updated.reason } : {}) }
    },
    async addSubject(clientId: string, streamId: string, subject: Subject) {
      const row = await own(clientId, streamId)
      const subjects = JSON.parse(row.subjects) as Subject[]
      if (subjects.length >= 10_000) throw badRequest('invalid_request', 'a stream holds at most 10000 subjects')
      const key = JSON.stringify(subject)
      if (!subjects.some((s) => JSON.stringify(s) === key))
        await q.update(row.id, { subjects: JSON.stringify([...subjects, subject]) })
    },
    async removeSubject(clientId: string, streamId: string, subject: Subject) {
      const row = await own(clientId, streamId)
      const key = JSON.stringify(subject)
      const subjects = (JSON.parse(row.subjects) as Subject[]).filter((s) => JSON.stringify(s) !== key)
      await q.update(row.id, { subjects: JSON.stringify(subjects) })
    },
    /** SSF 1.0 §8.1.4: a verification event, with the receiver's `state`, about the stream itself. */
    async verify(clientId: string, streamId: string, state?: string) {
      const row = await own(clientId, streamId)
      if (row.status !== 'enabled') throw badRequest('invalid_request', `the stream is ${row.status}`)
      await enqueue(row, { format: 'opaque', id: row.id }, { [VERIFICATION]: state === undefined ? {} : { state } })
    },
    /** Poll delivery (RFC 8936 §2.4): acknowledge, then return up to maxEvents waiting SETs. */
    async poll(
      clientId: string,
      streamId: string,
      body: { ack?: string[]; maxEvents?: number; returnImmediately?: boolean; setErrs?: Record<string, unknown> },
    ) {
      const row = await own(clientId, streamId)
      if ((JSON.parse(row.config) as StoredConfig).delivery.method !== DELIVERY_POLL)
        throw badRequest('invalid_request', 'this stream is delivered by push')
      const done = [...(body.ack ?? []), ...Object.keys(body.setErrs ?? {})]
      if (done.length) await q.ack(row.id, done)
      const max = body.maxEvents ?? 100
      if (max === 0) return { sets: {}, moreAvailable: (await q.count(row.id)) > 0 }
      // returnImmediately: false would allow long polling (§2.4); we always answer at once.
      const waiting = await q.waiting(row.id, max + 1)
      return {
        sets: Object.fromEntries(waiting.slice(0, max).map((e) => [e.jti, e.set])),
        moreAvailable: waiting.length > max,
      }
    },
    pushDue,
    /** Follows the audit log; returns the push timer's stop function. */
    start(intervalMs = 2000) {
      const stop = deps.audit.observe((e) => {
        if (!AUDIT_TO_EVENT[e.action]) return
        void fromAudit(e).catch((err) => deps.logger.error({ err, action: e.action }, 'SSF event not queued'))
      })
      const timer = setInterval(() => void pushDue(), intervalMs)
      timer.unref()
      return () => {
        stop()
        clearInterval(timer)
      }
    },
  }
}
export type SsfService = ReturnType<typeof ssfService>
