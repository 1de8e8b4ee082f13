import type { Tx } from '../db/audited.ts'
import type { AuditEventView } from '../audit/log.ts'
import type { SetRow, SsfQueries, StreamRow } from './queries.ts'
import { configOf, subjectMatches, subjectsOf } from './config.ts'
import { setClaims } from './sets.ts'
import {
  ASSURANCE_LEVEL_CHANGE,
  FACTOR_ACTIONS,
  STREAM_STATUS_CHANGED,
  STREAM_UPDATED,
  assuranceChange,
  eventFor,
} from './events.ts'

type InTx = ReturnType<SsfQueries['inTx']>

/**
 * The SETs of one audited state change, queued in that change's own transaction (the hook
 * audit/log.ts runs after the change's records were inserted): the change, its audit record
 * and its SETs commit together or not at all, so a crash after the commit loses no event, and
 * a queue that refuses the SETs rolls the change back. `committed` runs after the commit (wake
 * long polls, push now) with the streams that got something.
 */
export function ssfFanout(deps: { q: SsfQueries; issuer: string; committed: (streamIds: string[]) => void }) {
  const { issuer } = deps

  /** SSF 1.0 §8.1.5: the transmitter changed the stream's status; sent whatever the new status is. */
  async function streamUpdated(t: InTx, e: AuditEventView): Promise<SetRow[]> {
    const d = e.parsedDetails as { initiated_by?: string; after?: { status?: string; reason?: string | null } }
    if (d.initiated_by !== 'transmitter' || !d.after?.status) return []
    const row = await t.stream(e.target!)
    if (!row) return []
    const event = { status: d.after.status, ...(d.after.reason ? { reason: d.after.reason } : {}) }
    return [setClaims(issuer, row.clientId, row.id, { format: 'opaque', id: row.id }, { [STREAM_UPDATED]: event })]
  }

  async function userEvents(t: InTx, e: AuditEventView, streams: StreamRow[]): Promise<SetRow[]> {
    const mapped = eventFor(e.action, e.parsedDetails)
    const ts = Math.floor(e.time.getTime() / 1000)
    const events: [string, Record<string, unknown>][] = mapped ? [[mapped.type, mapped.event(ts, e.parsedDetails)]] : []
    const wanted = (type: string) => streams.some((s) => configOf(s).events_requested.includes(type))
    if (FACTOR_ACTIONS.has(e.action) && wanted(ASSURANCE_LEVEL_CHANGE)) {
      const change = assuranceChange(e, await t.factorCount(e.target!), ts)
      if (change) events.push([ASSURANCE_LEVEL_CHANGE, change])
    }
    if (!events.some(([type]) => wanted(type))) return []
    const user = await t.user(e.target!)
    if (!user) return []
    const rows: SetRow[] = []
    for (const s of streams) {
      if (!subjectsOf(s).some((sub) => subjectMatches(issuer, sub, user))) continue
      const requested = configOf(s).events_requested
      // one event per SET, so a receiver can act on (and acknowledge) each on its own
      for (const [type, event] of events)
        if (requested.includes(type))
          rows.push(
            setClaims(issuer, s.clientId, s.id, { format: 'iss_sub', iss: issuer, sub: user.id }, { [type]: event }),
          )
    }
    return rows
  }

  return async function fanout(tx: Tx, records: readonly AuditEventView[]) {
    const t = deps.q.inTx(tx)
    let streams: StreamRow[] | undefined
    const rows: SetRow[] = []
    for (const e of records) {
      if (e.outcome !== 'success' || !e.target) continue
      if (e.action === STREAM_STATUS_CHANGED) {
        rows.push(...(await streamUpdated(t, e)))
        continue
      }
      if (!eventFor(e.action, e.parsedDetails) && !FACTOR_ACTIONS.has(e.action)) continue
      streams ??= await t.enabledStreams()
      if (streams.length) rows.push(...(await userEvents(t, e, streams)))
    }
    if (!rows.length) return
    await t.enqueue(rows)
    const ids = [...new Set(rows.map((r) => r.streamId))]
    return () => deps.committed(ids)
  }
}
