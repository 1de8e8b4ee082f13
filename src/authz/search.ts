import crypto from 'node:crypto'
import { badRequest } from '../errors.ts'
import { DEFAULT_PAGE, defaultPath, toTuple, type EvaluationRequest, type SearchPageRequest } from './authzen.ts'
import { checkElements } from './decide.ts'
import type { LoadedStore } from './registry.ts'

/**
 * The OpenID AuthZEN Authorization API 1.0 search APIs (§8 subject, §9 resource, §10 action
 * search) over a Casbin store: the engine lists the values the policy names for the searched
 * request element (engine/search-space.ts), and each is checked through the same engine that
 * answers evaluations, so every result fed back into an evaluation is `decision: true` (the
 * semantics §8.1 asks for). Subjects are found transitively: a member of a role holding the
 * permission is a result, the role itself is not (as node-casbin's getImplicitUsersForPermission).
 */
export type SearchPart = 'subject' | 'resource' | 'action'

/** The AuthZEN path that carries the searched value. */
const SEARCHED: Record<SearchPart, string> = { subject: 'subject.id', resource: 'resource.id', action: 'action.name' }

export interface SearchAnswer {
  values: string[]
  /** '' on the last page */
  nextToken: string
}

/** Which request element of the store the searched value goes in, or why none does. */
function searchedIndex(s: LoadedStore, part: SearchPart): number {
  const path = SEARCHED[part]
  const explicit = s.options.authzen_request
  const index = explicit ? explicit.indexOf(path) : s.shape.tokens.findIndex((t) => defaultPath(t, false)[0] === path)
  if (index < 0) {
    const how = explicit
      ? `its authzen_request mapping has no "${path}"`
      : `its request (${s.shape.tokens.join(', ')}) has no element for ${path}`
    throw unsupported(s, part, how)
  }
  return index
}

const unsupported = (s: LoadedStore, part: SearchPart, why: string) =>
  badRequest('search_unsupported', `store ${s.name} cannot answer a ${part} search: ${why}`)

// Page tokens carry the last value returned (pages are cut in sorted order, so a change to the
// store between pages neither repeats nor skips the values that stayed) and a fingerprint of the
// search, so a token is not silently applied to another one. They grant nothing: any start point
// is a search the caller could make anyway.
function fingerprint(s: LoadedStore, part: SearchPart, tuple: unknown[]) {
  return crypto
    .createHash('sha256')
    .update(JSON.stringify([s.name, part, tuple]))
    .digest('base64url')
    .slice(0, 16)
}
function encodeToken(after: string, fp: string) {
  return Buffer.from(JSON.stringify({ a: after, q: fp })).toString('base64url')
}
function decodeToken(token: string, fp: string): string {
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'))
  } catch {
    parsed = undefined
  }
  const t = parsed as { a?: unknown; q?: unknown } | undefined
  if (!t || typeof t.a !== 'string' || typeof t.q !== 'string')
    throw badRequest('invalid_request', 'page.token is not a page token of this PDP')
  if (t.q !== fp) throw badRequest('invalid_request', 'page.token belongs to a different search request')
  return t.a
}

/** The first position in sorted `values` after `after`. */
function after(values: readonly string[], value: string): number {
  let lo = 0
  let hi = values.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (values[mid]! <= value) lo = mid + 1
    else hi = mid
  }
  return lo
}

function allowedWith(s: LoadedStore, tuple: unknown[], index: number, value: string): boolean {
  tuple[index] = value
  try {
    return s.engine.check(tuple).allowed
  } catch (err) {
    throw badRequest('invalid_request', `the request cannot be evaluated by store ${s.name}: ${(err as Error).message}`)
  }
}

/**
 * One page of a search. `req` is the request with the searched part filled by a placeholder
 * (its value is replaced by each candidate).
 */
export function searchStore(
  s: LoadedStore,
  part: SearchPart,
  req: EvaluationRequest,
  page: SearchPageRequest = {},
): SearchAnswer {
  const index = searchedIndex(s, part)
  const token = s.shape.tokens[index]!
  const tuple = toTuple(req, s.shape, s.options.authzen_request)
  if (typeof tuple === 'string') throw badRequest('invalid_request', tuple)
  tuple[index] = ''
  checkElements(s, tuple, (i) => `the value the request gives for "${s.shape.tokens[i] ?? i}"`)
  const space = s.engine.searchCandidates(token, tuple)
  if (space.kind === 'unsupported') throw unsupported(s, part, space.reason)
  const fp = fingerprint(s, part, tuple)
  const pageToken = page.token ?? page.next_token
  const limit = page.limit ?? DEFAULT_PAGE

  const values: string[] = []
  const candidates = space.values
  let i = pageToken ? after(candidates, decodeToken(pageToken, fp)) : 0
  // one beyond the page, so that next_token is empty exactly when nothing follows
  let more = false
  for (; i < candidates.length; i++) {
    if (!space.exact && !allowedWith(s, tuple, index, candidates[i]!)) continue
    if (values.length === limit) {
      more = true
      break
    }
    values.push(candidates[i]!)
  }
  return { values, nextToken: more ? encodeToken(values.at(-1)!, fp) : '' }
}
