import { z } from 'zod'
import type { RequestShape } from './model-info.ts'

/**
 * OpenID AuthZEN Authorization API 1.0 request shapes (§5-§7) and the mapping of a request onto
 * a Casbin store's request tuple.
 */
const properties = z.record(z.string(), z.unknown())
export const subject = z.object({ type: z.string().min(1), id: z.string().min(1), properties: properties.optional() })
export const resource = z.object({ type: z.string().min(1), id: z.string().min(1), properties: properties.optional() })
export const action = z.object({ name: z.string().min(1), properties: properties.optional() })
export const context = properties

export const evaluationRequest = z.object({ subject, action, resource, context: context.optional() })
export type EvaluationRequest = z.infer<typeof evaluationRequest>

// §7: top-level subject/action/resource/context are defaults for each entry.
export const partialEvaluation = z.object({
  subject: subject.optional(),
  action: action.optional(),
  resource: resource.optional(),
  context: context.optional(),
})
export type PartialEvaluation = z.infer<typeof partialEvaluation>
// Entries are checked one by one (partialEvaluation): a bad entry is that entry's error, not the batch's.
export const evaluationsRequest = partialEvaluation.extend({
  evaluations: z.array(z.unknown()).max(10_000, 'at most 10000 evaluations per request').optional(),
  options: z
    .object({
      evaluations_semantic: z
        .enum(['execute_all', 'deny_on_first_deny', 'permit_on_first_permit'])
        .default('execute_all'),
    })
    .catchall(z.unknown())
    .optional(),
})
export type EvaluationsRequest = z.infer<typeof evaluationsRequest>

// --- Search APIs (AuthZEN 1.0 §8-§10) -----------------------------------------------------------

export const MAX_PAGE = 1000
export const DEFAULT_PAGE = 100
/**
 * Paged requests: `page.token` is the `next_token` of the previous answer (drafts of the spec
 * called the request field `next_token`; both are read); `limit` caps the page size.
 */
export const searchPage = z
  .object({
    token: z.string().max(1024).optional(),
    next_token: z.string().max(1024).optional(),
    limit: z
      .number()
      .int()
      .min(1)
      .max(MAX_PAGE)
      .optional()
      .describe(`results per page, at most ${MAX_PAGE} (default ${DEFAULT_PAGE})`),
  })
  .catchall(z.unknown())
// §8: the subject's type is required; its id may be omitted and is ignored if present
const typedSubject = subject.extend({ id: z.string().optional() })
const typedResource = resource.extend({ id: z.string().optional() })
export const subjectSearchRequest = z.object({
  subject: typedSubject,
  action,
  resource,
  context: context.optional(),
  page: searchPage.optional(),
})
export const resourceSearchRequest = z.object({
  subject,
  action,
  resource: typedResource,
  context: context.optional(),
  page: searchPage.optional(),
})
// §10: the action search request has no action
export const actionSearchRequest = z.object({
  subject,
  resource,
  context: context.optional(),
  page: searchPage.optional(),
})
export type SubjectSearchRequest = z.infer<typeof subjectSearchRequest>
export type ResourceSearchRequest = z.infer<typeof resourceSearchRequest>
export type ActionSearchRequest = z.infer<typeof actionSearchRequest>
export type SearchPageRequest = z.infer<typeof searchPage>

const pageResponse = z.object({
  next_token: z.string().describe('empty when this is the last page'),
  count: z.number().int().describe('results in this page'),
})
export const subjectSearchResponse = z.object({
  results: z.array(z.object({ type: z.string(), id: z.string() })),
  page: pageResponse,
})
export const resourceSearchResponse = subjectSearchResponse
export const actionSearchResponse = z.object({ results: z.array(z.object({ name: z.string() })), page: pageResponse })

/** Fills one batch entry from the defaults; a missing part after that is a problem naming the entry. */
export function mergeDefaults(req: EvaluationsRequest, e: PartialEvaluation, i: number): EvaluationRequest | string {
  const merged = {
    subject: e.subject ?? req.subject,
    action: e.action ?? req.action,
    resource: e.resource ?? req.resource,
    context: e.context ?? req.context,
  }
  for (const k of ['subject', 'action', 'resource'] as const) {
    if (!merged[k]) return `evaluations[${i}] has no ${k} and the request gives no default`
  }
  return merged as EvaluationRequest
}

type Part = 'subject' | 'resource' | 'action' | 'context'

/** The object a matcher sees for an ABAC token: properties flattened, plus id/type/name. */
function asObject(req: EvaluationRequest, part: Part): Record<string, unknown> {
  if (part === 'context') return req.context ?? {}
  if (part === 'action') return { ...req.action.properties, name: req.action.name }
  const p = req[part]
  return { ...p.properties, id: p.id, type: p.type }
}

function byPath(req: EvaluationRequest, path: string): unknown {
  const [head, ...rest] = path.split('.') as [Part, ...string[]]
  if (!rest.length) return asObject(req, head)
  let v: unknown = req[head]
  for (const key of rest) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined
  return v
}

/** Default path per conventional Casbin token name. */
export function defaultPath(token: string, isObject: boolean): string[] {
  const t = token.toLowerCase()
  if (['sub', 'subject', 'user'].includes(t)) return [isObject ? 'subject' : 'subject.id']
  if (['obj', 'object', 'res', 'resource'].includes(t)) return [isObject ? 'resource' : 'resource.id']
  if (['act', 'action'].includes(t)) return [isObject ? 'action' : 'action.name']
  if (['dom', 'domain', 'tenant'].includes(t))
    return [`context.${token}`, 'context.domain', 'resource.properties.domain', 'subject.properties.domain']
  return [`context.${token}`, `resource.properties.${token}`, `subject.properties.${token}`]
}

/**
 * The store's request tuple for an AuthZEN request: the store's `authzen_request` paths when
 * set, else the conventional mapping (sub <- subject.id, obj <- resource.id, act <- action.name,
 * dom <- context.domain; whole objects for tokens whose attributes the matcher reads).
 */
export function toTuple(req: EvaluationRequest, shape: RequestShape, explicit?: string[]): unknown[] | string {
  if (explicit) {
    if (explicit.length !== shape.tokens.length)
      return `the store maps ${explicit.length} AuthZEN paths onto a request of ${shape.tokens.length} elements`
    return explicit.map((p) => byPath(req, p) ?? '')
  }
  const tuple: unknown[] = []
  for (const token of shape.tokens) {
    const paths = defaultPath(token, shape.objectTokens.includes(token))
    const value = paths.map((p) => byPath(req, p)).find((v) => v !== undefined)
    if (value === undefined) return `the request gives no value for "${token}" (expected ${paths[0]})`
    tuple.push(value)
  }
  return tuple
}
