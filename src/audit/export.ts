import { z } from 'zod'
import { badRequest } from '../errors.ts'
import type { AuditQueries, AuditRow, EventFilter } from './queries.ts'

/** An audit record as the API, the exports and the webhook present it (snake_case JSON). */
export function eventJson(r: AuditRow) {
  return {
    seq: r.seq,
    time: r.time.toISOString(),
    actor: r.actor,
    action: r.action,
    target: r.target,
    outcome: r.outcome,
    ip: r.ip,
    user_agent: r.userAgent,
    request_id: r.requestId,
    details: JSON.parse(r.details) as Record<string, unknown>,
    prev_hash: r.prevHash,
    hash: r.hash,
  }
}
export type EventJson = ReturnType<typeof eventJson>

export const MAX_PAGE = 500

const time = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO 8601 date-time')
  .transform((s) => new Date(s))
const text = z.string().min(1).max(256)
export const eventQuery = z
  .object({
    actor: text.optional(),
    action: text.optional(),
    target: text.optional(),
    outcome: z.enum(['success', 'failure', 'info']).optional(),
    from: time.optional(),
    to: time.optional(),
    limit: z.coerce
      .number()
      .int('must be a whole number')
      .min(1)
      .max(MAX_PAGE, `must be at most ${MAX_PAGE}`)
      .default(100),
    order: z.enum(['asc', 'desc']).default('desc'),
    cursor: z.string().max(200).optional(),
  })
  .strict()
export type EventQuery = z.infer<typeof eventQuery>

/** Opaque cursor: where the previous page stopped and in which direction (base64url JSON). */
const encodeCursor = (seq: number, order: 'asc' | 'desc') =>
  Buffer.from(JSON.stringify({ s: seq, o: order })).toString('base64url')
function decodeCursor(cursor: string, order: 'asc' | 'desc'): number {
  try {
    const c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { s?: unknown; o?: unknown }
    if (Number.isInteger(c.s) && c.o === order) return c.s as number
  } catch {
    // fall through
  }
  throw badRequest('invalid_request', 'cursor: not a cursor returned by this API for this order')
}

export function parseEventQuery(input: Record<string, unknown>): EventQuery {
  const r = eventQuery.safeParse(input)
  if (!r.success)
    throw badRequest(
      'invalid_request',
      r.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; '),
    )
  if (r.data.from && r.data.to && r.data.from > r.data.to)
    throw badRequest('invalid_request', 'from must not be after to')
  return r.data
}

/** One page of events and the cursor of the next one (absent on the last page). */
export async function queryEvents(q: AuditQueries, query: EventQuery) {
  const filter: EventFilter = {
    actor: query.actor,
    action: query.action,
    target: query.target,
    outcome: query.outcome,
    from: query.from,
    to: query.to,
  }
  const after = query.cursor ? decodeCursor(query.cursor, query.order) : undefined
  const rows = await q.page(filter, { limit: query.limit + 1, after, order: query.order })
  const page = rows.slice(0, query.limit)
  return {
    events: page.map(eventJson),
    next_cursor: rows.length > query.limit ? encodeCursor(page[page.length - 1]!.seq, query.order) : null,
  }
}

/** Every matching event, oldest first, in pages (for exports of any size). */
export async function* allEvents(q: AuditQueries, filter: EventFilter = {}): AsyncGenerator<AuditRow> {
  let after: number | undefined
  for (;;) {
    const rows = await q.page(filter, { limit: 1000, after, order: 'asc' })
    for (const r of rows) yield r
    if (rows.length < 1000) return
    after = rows[rows.length - 1]!.seq
  }
}

// ---- CEF (ArcSight Common Event Format, rev. 25) ----------------------------------------------

/** Header fields: backslash and pipe are escaped; a header cannot hold a line break. */
export const cefHeader = (v: string) =>
  v
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/[\r\n]+/g, ' ')
/** Extension values: backslash and equals are escaped, line breaks written as \n and \r. */
export const cefValue = (v: string) =>
  v
    .replace(/\\/g, '\\\\')
    .replace(/=/g, '\\=')
    .replace(/\r\n|\n/g, '\\n')
    .replace(/\r/g, '\\r')

function severity(r: AuditRow) {
  if (r.action.startsWith('alert.')) return 8
  if (r.outcome === 'failure') return 5
  return r.outcome === 'success' ? 2 : 3
}

export function cefLine(r: AuditRow, productVersion = '0.1.0'): string {
  const ext: string[] = []
  const add = (key: string, v: string | number | null, label?: string) => {
    if (v === null || v === '') return
    ext.push(`${key}=${cefValue(String(v))}`)
    if (label) ext.push(`${key}Label=${cefValue(label)}`)
  }
  add('rt', r.time.getTime())
  add('externalId', r.seq)
  add('act', r.action)
  add('outcome', r.outcome)
  add('suser', r.actor)
  add('duser', r.target)
  // src holds IPv4 only; IPv6 goes to the custom IPv6 field with its label.
  if (r.ip?.includes(':')) add('c6a2', r.ip, 'Source IPv6 Address')
  else add('src', r.ip)
  add('requestClientApplication', r.userAgent)
  add('cs1', r.requestId, 'requestId')
  add('cs2', r.hash, 'hash')
  add('msg', r.details === '{}' ? null : r.details)
  const extension = ext.join(' ')
  return `CEF:0|portcullis|portcullis|${cefHeader(productVersion)}|${cefHeader(r.action)}|${cefHeader(`${r.action} ${r.outcome}`)}|${severity(r)}|${extension}`
}

export const jsonLine = (r: AuditRow) => JSON.stringify(eventJson(r))
