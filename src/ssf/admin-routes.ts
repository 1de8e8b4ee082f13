import { z } from 'zod'
import { defineRoute, type Route } from '../http/contract.ts'
import type { Caller } from '../http/middleware/authn.ts'
import { adminCallerOf, callerLabel, type AdminAction, type AdminCaller } from '../admin/authority.ts'
import { adminAuth, adminReadAuth, adminRoute, forbiddenDoc } from '../admin/route-kit.ts'
import { textProblem } from '../storable-text.ts'
import type { SsfService } from './service.ts'

/**
 * Administrators' view of the Shared Signals streams (docs/oauth-oidc.md "Shared Signals"):
 * list them, and pause, disable or enable one; the receiver is told with a stream-updated event
 * (SSF 1.0 §8.1.5). Receivers are OAuth clients, so the client permissions decide.
 */
// one tag: the reference page lists an operation once per tag
const tags = ['Administration'] as const
const reason = z
  .string()
  .min(1)
  .max(500)
  .refine((s) => !textProblem(s), 'must be valid text without NUL or lone surrogates')
const status = z.enum(['enabled', 'paused', 'disabled'])
const statusOut = z.object({ stream_id: z.string(), status, reason: z.string().optional() })

export const ssfAdminContracts = {
  list: defineRoute({
    operationId: 'adminListSsfStreams',
    method: 'get',
    path: '/admin/v1/ssf/streams',
    tags,
    auth: adminReadAuth,
    noStore: true,
    summary: "Every receiver's Shared Signals stream (never its push credential)",
    responses: {
      200: { description: 'the streams', body: z.object({ items: z.array(z.record(z.string(), z.unknown())) }) },
      403: forbiddenDoc,
    },
  }),
  setStatus: defineRoute({
    operationId: 'adminSetSsfStreamStatus',
    method: 'post',
    path: '/admin/v1/ssf/streams/:id/status',
    tags,
    auth: adminAuth,
    noStore: true,
    params: z.object({ id: z.string().regex(/^[\w-]{1,64}$/, 'a stream id') }),
    body: { schema: z.object({ status, reason: reason.optional() }).strict() },
    summary: 'Enable, pause or disable a stream; its receiver gets a stream-updated event (SSF 1.0 §8.1.5)',
    responses: {
      200: { description: 'the new status', body: statusOut },
      400: { description: 'bad input' },
      403: forbiddenDoc,
      404: { description: 'no such stream' },
    },
  }),
}

export function ssfAdminRoutes(
  ssf: SsfService,
  authority: { require(caller: AdminCaller, action: AdminAction): Promise<unknown> },
): Route[] {
  const c = ssfAdminContracts
  const who = (caller: Caller) => adminCallerOf(caller)
  return [
    adminRoute(c.list, async ({ caller }) => {
      await authority.require(who(caller), 'clients:read')
      return { items: await ssf.admin.list() }
    }),
    adminRoute(c.setStatus, async ({ caller, params, body }) => {
      const ac = who(caller)
      await authority.require(ac, 'clients:write')
      return ssf.admin.setStatus(callerLabel(ac), params.id, body.status, body.reason)
    }),
  ]
}
