import { badRequest } from '../errors.ts'
import type { StreamRow } from './queries.ts'
import { DELIVERY_POLL, EVENTS_SUPPORTED } from './events.ts'

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
export interface StoredConfig {
  delivery: { method: string; endpoint_url?: string; authorization_header?: string }
  events_requested: string[]
  description?: string
}
export interface Sealer {
  seal: (text: string, context: string) => string
  open: (sealed: string, context: string) => string
}

export const configOf = (row: StreamRow) => JSON.parse(row.config) as StoredConfig
export const subjectsOf = (row: StreamRow) => JSON.parse(row.subjects) as Subject[]
/** the sealing context of a stream's push `authorization_header` */
export const sealContext = (streamId: string) => `ssf-stream:${streamId}`
export const pollUrl = (issuer: string, id: string) => `${issuer}/ssf/v1/poll/${id}`

/** A stream's configuration as the receiver sees it (SSF 1.0 §8.1.1): never its authorization_header. */
export function streamView(issuer: string, row: StreamRow) {
  const c = configOf(row)
  const { authorization_header: _secret, ...delivery } = c.delivery
  return {
    stream_id: row.id,
    iss: issuer,
    aud: row.clientId,
    delivery:
      c.delivery.method === DELIVERY_POLL ? { method: DELIVERY_POLL, endpoint_url: pollUrl(issuer, row.id) } : delivery,
    events_supported: [...EVENTS_SUPPORTED],
    events_requested: c.events_requested,
    // SSF 1.0 §8.1.1: what the transmitter will deliver is the intersection.
    events_delivered: c.events_requested.filter((e) => (EVENTS_SUPPORTED as readonly string[]).includes(e)),
    ...(c.description ? { description: c.description } : {}),
  }
}

/** The delivery to store: push needs an endpoint (RFC 8935), and its credential is sealed. */
export function checkDelivery(sealer: Sealer, streamId: string, d: StreamInput['delivery']): StoredConfig['delivery'] {
  if (!d || d.method === DELIVERY_POLL) return { method: DELIVERY_POLL }
  if (!d.endpoint_url)
    throw badRequest('invalid_request', 'delivery.endpoint_url is required for push delivery (RFC 8935)')
  const { authorization_header, ...rest } = d
  return authorization_header
    ? { ...rest, authorization_header: sealer.seal(authorization_header, sealContext(streamId)) }
    : rest
}

/** PUT replaces the configuration (SSF 1.0 §8.1.1.4), PATCH changes what it names (§8.1.1.3). */
export function nextConfig(sealer: Sealer, row: StreamRow, input: StreamInput, replace: boolean): StoredConfig {
  const old = configOf(row)
  if (replace)
    return {
      delivery: checkDelivery(sealer, row.id, input.delivery),
      events_requested: input.events_requested ?? [],
      ...(input.description ? { description: input.description } : {}),
    }
  return {
    delivery: input.delivery ? checkDelivery(sealer, row.id, input.delivery) : old.delivery,
    events_requested: input.events_requested ?? old.events_requested,
    description: input.description ?? old.description,
  }
}

export function subjectMatches(issuer: string, s: Subject, user: { id: string; email: string }) {
  return (
    (s.format === 'email' && s.email.toLowerCase() === user.email.toLowerCase()) ||
    (s.format === 'iss_sub' && s.iss === issuer && s.sub === user.id) ||
    (s.format === 'opaque' && s.id === user.id)
  )
}
