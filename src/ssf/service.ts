import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { badRequest } from '../errors.ts'
import type { AuditLog } from '../audit/log.ts'
import type { KeyStore } from '../oidc/keys.ts'
import type { SsfQueries } from './queries.ts'
import type { Sealer } from './config.ts'
import { DELIVERY_POLL, DELIVERY_PUSH, VERIFICATION } from './events.ts'
import { setClaims, setSigner } from './sets.ts'
import { ssfFanout } from './fanout.ts'
import { ssfPush } from './push.ts'
import { ssfPoll, type PollBody } from './poll.ts'
import { streamSignals } from './signals.ts'
import { ssfStreams } from './streams.ts'

export type { Subject, StreamInput } from './config.ts'

/**
 * The OpenID Shared Signals Framework 1.0 transmitter: stream management (streams.ts), SETs
 * queued in the transaction of the change they report (fanout.ts), push (push.ts) and poll with
 * long polling (poll.ts, signals.ts) delivery.
 */
export function ssfService(deps: {
  q: SsfQueries
  keys: KeyStore
  audit: AuditLog
  logger: Logger
  issuer: string
  /** the push `authorization_header` is the receiver's credential: stored sealed (master key) */
  sealer: Sealer
  /** with Redis, a long poll on one instance hears of a SET queued on another at once */
  redis?: Redis
  redisPrefix?: string
}) {
  const { q, issuer } = deps
  const signed = setSigner(deps.keys, q)
  const signals = streamSignals({ redis: deps.redis, prefix: deps.redisPrefix ?? '', logger: deps.logger })
  const pushDue = ssfPush({ q, logger: deps.logger, sealer: deps.sealer, signed })
  const poll = ssfPoll({ q, signed, signals })
  const streams = ssfStreams({ q, audit: deps.audit, issuer, sealer: deps.sealer })
  /** after a commit that queued SETs: wake long polls (every instance) and push now */
  const queued = (streamIds: string[]) => {
    signals.announce(streamIds)
    void pushDue()
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
    create: streams.create,
    list: streams.list,
    update: streams.update,
    remove: streams.remove,
    status: streams.status,
    setStatus: streams.setStatus,
    addSubject: streams.addSubject,
    removeSubject: streams.removeSubject,
    /** For administrators: every stream, and the transmitter's status changes (stream-updated). */
    admin: { list: streams.all, setStatus: streams.adminSetStatus },
    /** SSF 1.0 §8.1.4: a verification event, with the receiver's `state`, about the stream itself. */
    async verify(clientId: string, streamId: string, state?: string) {
      const row = await streams.own(clientId, streamId)
      if (row.status !== 'enabled') throw badRequest('invalid_request', `the stream is ${row.status}`)
      const event = { [VERIFICATION]: state === undefined ? {} : { state } }
      await q.enqueue(setClaims(issuer, row.clientId, row.id, { format: 'opaque', id: row.id }, event))
      queued([row.id])
    },
    async poll(clientId: string, streamId: string, body: PollBody, waitS?: number) {
      return poll(await streams.own(clientId, streamId), body, waitS)
    },
    pushDue,
    /**
     * Queues SETs inside every audited change's transaction, wakes long polls, and pushes due
     * SETs every `intervalMs`; returns the stop function.
     */
    start(intervalMs = 2000) {
      signals.start()
      const unhook = deps.audit.inTransaction(ssfFanout({ q, issuer, committed: queued }))
      const timer = setInterval(() => void pushDue(), intervalMs)
      timer.unref()
      return async () => {
        unhook()
        clearInterval(timer)
        await signals.stop()
      }
    },
    /** Shutdown begins: waiting long polls answer now, so in-flight requests can finish. */
    release: () => signals.release(),
  }
}
export type SsfService = ReturnType<typeof ssfService>
