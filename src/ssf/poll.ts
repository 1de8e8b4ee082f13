import { badRequest } from '../errors.ts'
import type { SsfQueries, StreamRow } from './queries.ts'
import { configOf } from './config.ts'
import { DELIVERY_POLL } from './events.ts'
import type { SetSigner } from './sets.ts'
import type { StreamSignals } from './signals.ts'

/** The longest a long poll waits (RFC 8936 §2.4 leaves it to the transmitter). */
export const LONG_POLL_MAX_S = 30
/** Long polls held per stream and instance; more answer at once (a receiver needs one or two). */
export const MAX_HELD_PER_STREAM = 8
/** A waiting poll looks at the queue this often even without a notice (one lost, or a crash before it). */
const RECHECK_MS = 5_000

export interface PollBody {
  ack?: string[]
  maxEvents?: number
  returnImmediately?: boolean
  setErrs?: Record<string, unknown>
}

/**
 * Poll delivery (RFC 8936 §2.4): acknowledge, then return up to maxEvents waiting SETs. Without
 * `returnImmediately: true` the request is a long poll: it waits until a SET is queued for the
 * stream (on any instance: signals.ts), `waitS` seconds (the client's `Prefer: wait`, RFC 7240
 * §4.3) or LONG_POLL_MAX_S at most, or the shutdown, whichever comes first.
 */
export function ssfPoll(deps: { q: SsfQueries; signed: SetSigner; signals: StreamSignals }) {
  const { q } = deps

  async function take(streamId: string, max: number) {
    const rows = await q.waiting(streamId, max + 1)
    const sets: Record<string, string> = {}
    for (const row of rows.slice(0, max)) {
      const set = await deps.signed(row)
      if (set !== undefined) sets[row.jti] = set
    }
    return { sets, moreAvailable: rows.length > max }
  }

  return async function poll(row: StreamRow, body: PollBody, waitS?: number) {
    if (configOf(row).delivery.method !== DELIVERY_POLL)
      throw badRequest('invalid_request', 'this stream is delivered by push')
    const done = [...(body.ack ?? []), ...Object.keys(body.setErrs ?? {})]
    if (done.length) await q.ack(row.id, done)
    const max = body.maxEvents ?? 100
    if (max === 0) return { sets: {}, moreAvailable: (await q.count(row.id)) > 0 }
    const longPoll = body.returnImmediately !== true && deps.signals.held(row.id) < MAX_HELD_PER_STREAM
    const deadline = Date.now() + Math.min(waitS ?? LONG_POLL_MAX_S, LONG_POLL_MAX_S) * 1000
    for (;;) {
      const listener = longPoll ? deps.signals.listen(row.id) : undefined
      try {
        const out = await take(row.id, max)
        const left = deadline - Date.now()
        if (!listener || Object.keys(out.sets).length || left <= 0 || deps.signals.released) return out
        await listener.wait(Math.min(left, RECHECK_MS))
      } finally {
        listener?.stop()
      }
    }
  }
}
