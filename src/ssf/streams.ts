import type { AuditAction } from '../audit/actions.ts'
import { randomUUID } from 'node:crypto'
import { badRequest, conflict, notFound } from '../errors.ts'
import type { AuditLog } from '../audit/log.ts'
import type { SsfQueries, StreamRow } from './queries.ts'
import {
  checkDelivery,
  nextConfig,
  streamView,
  subjectsOf,
  type Sealer,
  type StreamInput,
  type Subject,
} from './config.ts'
import { STREAM_STATUS_CHANGED } from './events.ts'

/** The stream management API (SSF 1.0 §8.1): one stream per receiver client. */
export function ssfStreams(deps: { q: SsfQueries; audit: AuditLog; issuer: string; sealer: Sealer }) {
  const { q, issuer } = deps
  const view = (row: StreamRow) => streamView(issuer, row)
  /** the change and its record commit together (db/audited.ts) */
  const record = (action: AuditAction, clientId: string, target: string, details: Record<string, unknown> = {}) =>
    deps.audit.with(() => ({ action, outcome: 'success', actor: `client:${clientId}`, target, details }))

  async function own(clientId: string, streamId?: string) {
    const row = await q.streamOf(clientId)
    // a stream of another receiver is as absent as one that does not exist (SSF 1.0 §8.1.1.2)
    if (!row || (streamId !== undefined && row.id !== streamId)) throw notFound('no such stream')
    return row
  }
  const statusView = (row: StreamRow) => ({
    stream_id: row.id,
    status: row.status,
    ...(row.reason ? { reason: row.reason } : {}),
  })

  /** The status, its record and (the transmitter's changes) the stream-updated SET commit together (fanout.ts). */
  async function changeStatus(row: StreamRow, status: string, reason: string | null, actor: string, by: string) {
    const updated = await q.setStatus(
      row.id,
      status,
      reason,
      deps.audit.with(() => ({
        action: STREAM_STATUS_CHANGED,
        outcome: 'success',
        actor,
        target: row.id,
        details: {
          initiated_by: by,
          before: { status: row.status, reason: row.reason },
          after: { status, reason },
        },
      })),
    )
    return statusView(updated)
  }

  return {
    own,
    view,
    async create(clientId: string, input: StreamInput) {
      if (await q.streamOf(clientId))
        throw conflict('stream_exists', 'this receiver already has a stream (one per client)')
      const id = randomUUID()
      const delivery = checkDelivery(deps.sealer, id, input.delivery)
      const config = {
        delivery,
        events_requested: input.events_requested ?? [],
        ...(input.description ? { description: input.description } : {}),
      }
      const row = await q.create(
        { id, clientId, config: JSON.stringify(config) },
        record('ssf.stream_created', clientId, id, { delivery: delivery.method }),
      )
      return view(row)
    },
    async list(clientId: string, streamId?: string) {
      if (streamId !== undefined) return view(await own(clientId, streamId))
      const row = await q.streamOf(clientId)
      return row ? [view(row)] : []
    },
    async update(clientId: string, streamId: string, input: StreamInput, replace: boolean) {
      const row = await own(clientId, streamId)
      const config = nextConfig(deps.sealer, row, input, replace)
      const updated = await q.update(
        row.id,
        { config: JSON.stringify(config) },
        record('ssf.stream_updated', clientId, row.id),
      )
      return view(updated)
    },
    async remove(clientId: string, streamId: string) {
      const row = await own(clientId, streamId)
      await q.remove(row.id, record('ssf.stream_deleted', clientId, row.id))
    },
    status: async (clientId: string, streamId: string) => statusView(await own(clientId, streamId)),
    /** The receiver's own change (SSF 1.0 §8.1.2.2): it knows, so no stream-updated event. */
    async setStatus(clientId: string, streamId: string, status: string, reason?: string) {
      return changeStatus(await own(clientId, streamId), status, reason ?? null, `client:${clientId}`, 'receiver')
    },
    /** Every stream, for administrators (no secrets). */
    async all() {
      return (await q.all()).map((row) => ({ ...view(row), status: row.status, reason: row.reason }))
    },
    /** An administrator pauses, disables or enables a stream: the receiver gets stream-updated (SSF 1.0 §8.1.5). */
    async adminSetStatus(actor: string, streamId: string, status: string, reason?: string) {
      const row = await q.byId(streamId)
      if (!row) throw notFound('no such stream')
      return changeStatus(row, status, reason ?? null, actor, 'transmitter')
    },
    async addSubject(clientId: string, streamId: string, subject: Subject) {
      const row = await own(clientId, streamId)
      const subjects = subjectsOf(row)
      if (subjects.length >= 10_000) throw badRequest('invalid_request', 'a stream holds at most 10000 subjects')
      const key = JSON.stringify(subject)
      if (!subjects.some((s) => JSON.stringify(s) === key))
        await q.update(row.id, { subjects: JSON.stringify([...subjects, subject]) })
    },
    async removeSubject(clientId: string, streamId: string, subject: Subject) {
      const row = await own(clientId, streamId)
      const key = JSON.stringify(subject)
      const subjects = subjectsOf(row).filter((s) => JSON.stringify(s) !== key)
      await q.update(row.id, { subjects: JSON.stringify(subjects) })
    },
  }
}
export type SsfStreams = ReturnType<typeof ssfStreams>
