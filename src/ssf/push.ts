import type { Logger } from 'pino'
import type { SsfQueries } from './queries.ts'
import { configOf, sealContext, type Sealer } from './config.ts'
import { DELIVERY_PUSH, STREAM_EVENTS } from './events.ts'
import { eventTypes, type SetSigner } from './sets.ts'

const MAX_BACKOFF_S = 3600
const MAX_ATTEMPTS = 20
const LEASE_MS = 60_000

/**
 * Push delivery (RFC 8935 §2): POST the SET; 202 is done, anything else retried with backoff.
 * Every instance runs it; a lease on each due SET keeps two instances from sending it both.
 * While a stream is paused or disabled only the events about the stream itself go out
 * (stream-updated, SSF 1.0 §8.1.5); the others wait until it is enabled again.
 */
export function ssfPush(deps: { q: SsfQueries; logger: Logger; sealer: Sealer; signed: SetSigner }) {
  const { q } = deps

  async function send(ev: { id: number; streamId: string; set: string; attempts: number }, d: PushTarget) {
    try {
      const set = await deps.signed(ev)
      if (set === undefined) return
      const res = await fetch(d.endpoint_url!, {
        method: 'POST',
        redirect: 'manual',
        signal: AbortSignal.timeout(10_000),
        headers: {
          'content-type': 'application/secevent+jwt',
          accept: 'application/json',
          ...(d.authorization_header
            ? { authorization: deps.sealer.open(d.authorization_header, sealContext(ev.streamId)) }
            : {}),
        },
        body: set,
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

  type PushTarget = ReturnType<typeof configOf>['delivery']
  async function pushOnce() {
    const streams = (await q.all()).filter((s) => configOf(s).delivery.method === DELIVERY_PUSH)
    if (!streams.length) return
    const byId = new Map(streams.map((s) => [s.id, configOf(s).delivery]))
    const enabled = streams.filter((s) => s.status === 'enabled').map((s) => s.id)
    const held = streams.filter((s) => s.status !== 'enabled').map((s) => s.id)
    const now = new Date()
    const due = [
      ...(enabled.length ? await q.due(enabled, now) : []),
      ...(held.length
        ? (await q.due(held, now)).filter((ev) => eventTypes(ev.set).every((t) => STREAM_EVENTS.includes(t)))
        : []),
    ]
    for (const ev of due) {
      // one instance sends it (a lease, not a lock: a crash mid-send retries after LEASE_MS)
      if (!(await q.claim(ev.id, ev.nextAttemptAt, new Date(Date.now() + LEASE_MS)))) continue
      await send(ev, byId.get(ev.streamId)!)
    }
  }

  let pushing: Promise<void> | undefined
  let again = false
  /** Sends what is due; a call while a round runs asks for one more round after it. */
  function pushDue(): Promise<void> {
    if (pushing) {
      again = true
      return pushing
    }
    pushing = pushOnce()
      .catch((err) => deps.logger.error({ err }, 'SSF push failed'))
      .finally(() => {
        pushing = undefined
        if (again) {
          again = false
          void pushDue()
        }
      })
    return pushing
  }
  return pushDue
}
