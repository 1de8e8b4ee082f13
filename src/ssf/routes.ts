import { z } from 'zod'
import { defineRoute, reply, route, type Route } from '../http/contract.ts'
import type { Caller } from '../http/middleware/authn.ts'
import { forbidden } from '../errors.ts'
import { textProblem } from '../storable-text.ts'
import { DELIVERY_POLL, DELIVERY_PUSH } from './events.ts'
import type { SsfService } from './service.ts'

/**
 * OpenID Shared Signals Framework 1.0 transmitter (docs/oauth-oidc.md "Shared Signals"):
 * configuration metadata, the stream management API (scope `ssf:stream`, one stream per
 * receiver client) and poll delivery with long polling (RFC 8936).
 */
const tags = ['Shared Signals'] as const
const auth = { scopes: ['ssf:stream'], schemes: ['access_token'] } as const
const text = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((s) => !textProblem(s), 'must be valid text without NUL or lone surrogates')
const url = text(2048).refine((s) => /^https?:\/\//.test(s) && URL.canParse(s), 'must be an http(s) URL')
const streamId = z.object({ stream_id: text(64) }).strict()
const delivery = z
  .object({
    method: z.enum([DELIVERY_PUSH, DELIVERY_POLL]),
    endpoint_url: url.optional(),
    authorization_header: text(4096).optional(),
  })
  .strict()
const streamInput = z
  .object({
    delivery: delivery.optional(),
    events_requested: z.array(text(256)).max(64).optional(),
    description: text(500).optional(),
  })
  .strict()
const subject = z.discriminatedUnion('format', [
  z.object({ format: z.literal('email'), email: text(320) }).strict(),
  z.object({ format: z.literal('iss_sub'), iss: text(2048), sub: text(256) }).strict(),
  z.object({ format: z.literal('opaque'), id: text(256) }).strict(),
])
const streamOut = z.object({
  stream_id: z.string(),
  iss: z.string(),
  aud: z.string(),
  delivery: z.object({ method: z.string(), endpoint_url: z.string().optional() }),
  events_supported: z.array(z.string()),
  events_requested: z.array(z.string()),
  events_delivered: z.array(z.string()),
  description: z.string().optional(),
})
const statusOut = z.object({
  stream_id: z.string(),
  status: z.enum(['enabled', 'paused', 'disabled']),
  reason: z.string().optional(),
})
const err = (what: string) => ({ description: what })

export const ssfContracts = {
  configuration: defineRoute({
    operationId: 'ssfConfiguration',
    method: 'get',
    path: '/.well-known/ssf-configuration',
    tags,
    auth: 'public',
    summary: 'Transmitter configuration metadata (SSF 1.0 §7.1)',
    responses: { 200: { description: 'the metadata', body: z.record(z.string(), z.unknown()) } },
  }),
  create: defineRoute({
    operationId: 'ssfCreateStream',
    method: 'post',
    path: '/ssf/v1/stream',
    tags,
    auth,
    noStore: true,
    body: { schema: streamInput },
    summary: "Create the calling receiver's event stream (SSF 1.0 §8.1.1.1)",
    responses: {
      201: { description: 'the stream', body: streamOut },
      400: err('bad input'),
      401: err('no token'),
      403: err('no ssf:stream scope'),
      409: err('the receiver has a stream already'),
    },
  }),
  read: defineRoute({
    operationId: 'ssfReadStream',
    method: 'get',
    path: '/ssf/v1/stream',
    tags,
    auth,
    noStore: true,
    query: z.object({ stream_id: text(64).optional() }).strict(),
    summary: "The caller's stream (with stream_id) or list of streams (SSF 1.0 §8.1.1.2)",
    responses: {
      200: { description: 'the stream, or a list', body: z.union([streamOut, z.array(streamOut)]) },
      404: err('no such stream'),
    },
  }),
  update: defineRoute({
    operationId: 'ssfUpdateStream',
    method: 'patch',
    path: '/ssf/v1/stream',
    tags,
    auth,
    noStore: true,
    body: { schema: streamInput.extend(streamId.shape).strict() },
    summary: "Change some of the stream's configuration (SSF 1.0 §8.1.1.3)",
    responses: {
      200: { description: 'the stream', body: streamOut },
      400: err('bad input'),
      404: err('no such stream'),
    },
  }),
  replace: defineRoute({
    operationId: 'ssfReplaceStream',
    method: 'put',
    path: '/ssf/v1/stream',
    tags,
    auth,
    noStore: true,
    body: { schema: streamInput.extend(streamId.shape).strict() },
    summary: "Replace the stream's configuration (SSF 1.0 §8.1.1.4)",
    responses: {
      200: { description: 'the stream', body: streamOut },
      400: err('bad input'),
      404: err('no such stream'),
    },
  }),
  remove: defineRoute({
    operationId: 'ssfDeleteStream',
    method: 'delete',
    path: '/ssf/v1/stream',
    tags,
    auth,
    noStore: true,
    query: streamId,
    summary: 'Delete the stream and every SET waiting in it (SSF 1.0 §8.1.1.5)',
    responses: { 204: { description: 'deleted' }, 404: err('no such stream') },
  }),
  status: defineRoute({
    operationId: 'ssfStreamStatus',
    method: 'get',
    path: '/ssf/v1/status',
    tags,
    auth,
    noStore: true,
    query: streamId,
    summary: "The stream's status (SSF 1.0 §8.1.2.1)",
    responses: { 200: { description: 'the status', body: statusOut }, 404: err('no such stream') },
  }),
  setStatus: defineRoute({
    operationId: 'ssfUpdateStreamStatus',
    method: 'post',
    path: '/ssf/v1/status',
    tags,
    auth,
    noStore: true,
    body: {
      schema: z
        .object({
          stream_id: text(64),
          status: z.enum(['enabled', 'paused', 'disabled']),
          reason: text(500).optional(),
        })
        .strict(),
    },
    summary: 'Enable, pause or disable the stream (SSF 1.0 §8.1.2.2); a paused or disabled stream queues nothing',
    responses: {
      200: { description: 'the status', body: statusOut },
      400: err('bad input'),
      404: err('no such stream'),
    },
  }),
  addSubject: defineRoute({
    operationId: 'ssfAddSubject',
    method: 'post',
    path: '/ssf/v1/subjects/add',
    tags,
    auth,
    noStore: true,
    body: { schema: z.object({ stream_id: text(64), subject, verified: z.boolean().optional() }).strict() },
    summary: 'Add a subject (RFC 9493 email, iss_sub or opaque) to the stream (SSF 1.0 §8.1.3.2)',
    responses: { 200: { description: 'added' }, 400: err('bad input'), 404: err('no such stream') },
  }),
  removeSubject: defineRoute({
    operationId: 'ssfRemoveSubject',
    method: 'post',
    path: '/ssf/v1/subjects/remove',
    tags,
    auth,
    noStore: true,
    body: { schema: z.object({ stream_id: text(64), subject }).strict() },
    summary: 'Remove a subject from the stream (SSF 1.0 §8.1.3.3)',
    responses: { 204: { description: 'removed' }, 400: err('bad input'), 404: err('no such stream') },
  }),
  verify: defineRoute({
    operationId: 'ssfVerify',
    method: 'post',
    path: '/ssf/v1/verify',
    tags,
    auth,
    noStore: true,
    body: { schema: z.object({ stream_id: text(64), state: text(1024).optional() }).strict() },
    summary: 'Ask for a verification event on the stream (SSF 1.0 §8.1.4.2)',
    responses: {
      204: { description: 'queued' },
      400: err('bad input or the stream is not enabled'),
      404: err('no such stream'),
    },
  }),
  poll: defineRoute({
    operationId: 'ssfPoll',
    method: 'post',
    path: '/ssf/v1/poll/:stream_id',
    tags,
    auth,
    noStore: true,
    params: streamId,
    body: {
      schema: z
        .object({
          ack: z.array(text(128)).max(1000).optional(),
          maxEvents: z.number().int().min(0).max(1000).optional(),
          returnImmediately: z.boolean().optional(),
          setErrs: z
            .record(text(128), z.object({ err: text(64), description: text(1024).optional() }).strict())
            .optional(),
        })
        .strict(),
      optional: true,
    },
    summary:
      'Poll delivery (RFC 8936 §2.4): acknowledge SETs and receive the next ones. Without returnImmediately: true ' +
      'it is a long poll: it waits until a SET is queued, up to 30 s or the `Prefer: wait=N` header (RFC 7240)',
    responses: {
      200: {
        description: 'waiting SETs by jti',
        body: z.object({ sets: z.record(z.string(), z.string()), moreAvailable: z.boolean() }),
      },
      400: err('bad input or a push stream'),
      404: err('no such stream'),
    },
  }),
}

/** `Prefer: wait=N` (RFC 7240 §4.3): how long the client is willing to wait for a long poll. */
function preferWait(header: string): number | undefined {
  const m = /(?:^|[,;\s])wait\s*=\s*"?(\d{1,6})"?/i.exec(header)
  return m ? Number(m[1]) : undefined
}

/** The receiver is an OAuth client; stream management is by its client credentials only. */
function receiver(c: Caller) {
  if (c.kind !== 'client') throw forbidden('stream management is for receiver clients (client credentials)')
  return c.clientId ?? c.id
}

export function ssfRoutes(ssf: SsfService): Route[] {
  const c = ssfContracts
  return [
    route(c.configuration, () => ssf.configuration()),
    route(c.create, ({ caller, body }) => ssf.create(receiver(caller), body)),
    route(c.read, ({ caller, query }) => ssf.list(receiver(caller), query.stream_id)),
    route(c.update, ({ caller, body: { stream_id, ...rest } }) => ssf.update(receiver(caller), stream_id, rest, false)),
    route(c.replace, ({ caller, body: { stream_id, ...rest } }) => ssf.update(receiver(caller), stream_id, rest, true)),
    route(c.remove, async ({ caller, query }) => {
      await ssf.remove(receiver(caller), query.stream_id)
      return reply(204, undefined)
    }),
    route(c.status, ({ caller, query }) => ssf.status(receiver(caller), query.stream_id)),
    route(c.setStatus, ({ caller, body }) => ssf.setStatus(receiver(caller), body.stream_id, body.status, body.reason)),
    route(c.addSubject, async ({ caller, body }) => {
      await ssf.addSubject(receiver(caller), body.stream_id, body.subject)
      return reply(200, {})
    }),
    route(c.removeSubject, async ({ caller, body }) => {
      await ssf.removeSubject(receiver(caller), body.stream_id, body.subject)
      return reply(204, undefined)
    }),
    route(c.verify, async ({ caller, body }) => {
      await ssf.verify(receiver(caller), body.stream_id, body.state)
      return reply(204, undefined)
    }),
    route(c.poll, ({ caller, params, body }, ctx) =>
      ssf.poll(receiver(caller), params.stream_id, body ?? {}, preferWait(ctx.get('prefer'))),
    ),
  ]
}
