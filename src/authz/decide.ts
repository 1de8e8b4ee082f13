import { badRequest, notFound } from '../errors.ts'
import type { PolicyRegistry, LoadedStore } from './registry.ts'
import { toTuple, type EvaluationRequest } from './authzen.ts'
import type { AuthzenDecision, CheckResult } from './decisions.ts'

export interface DecisionObserver {
  (store: string, allowed: boolean, seconds: number): void
}

/**
 * A native request tuple holds strings; an object only where the store takes one (it accepts
 * JSON requests, or its matcher or eval() rules read that element's attributes). Anything
 * else (numbers, null, booleans, arrays) would be compared loosely by the matcher, so
 * `[["alice"], "/data/1", "read"]` could match `alice`: a 400 naming the element instead.
 */
export function checkElements(s: LoadedStore, tuple: unknown[], name: (i: number) => string) {
  tuple.forEach((v, i) => {
    if (typeof v === 'string') return
    const objectOk = s.options.accept_json_request === true || s.shape.attributeTokens.includes(s.shape.tokens[i] ?? '')
    const isObject = typeof v === 'object' && v !== null && !Array.isArray(v)
    if (isObject && objectOk) return
    throw badRequest(
      'invalid_request',
      `${name(i)} must be a string${objectOk ? ' or an object' : ''} (store ${s.name}, element ${s.shape.tokens[i] ?? i}), got ${describe(v)}`,
    )
  })
}

/**
 * The check path: an in-memory store lookup and the engine. No database, no await.
 * Engine errors on hostile input (e.g. a request of the wrong arity) become 400s.
 */
export function decider(registry: PolicyRegistry, observe?: DecisionObserver) {
  function storeOf(name: string): LoadedStore {
    const s = registry.get(name)
    if (!s) throw notFound(`no policy store ${name}`)
    return s
  }

  function run(s: LoadedStore, tuple: unknown[]) {
    if (tuple.length !== s.shape.tokens.length) {
      throw badRequest(
        'invalid_request',
        `store ${s.name} takes requests of ${s.shape.tokens.length} elements (${s.shape.tokens.join(', ')}), got ${tuple.length}`,
      )
    }
    const started = performance.now()
    let d
    try {
      d = s.engine.check(tuple)
    } catch (err) {
      throw badRequest(
        'invalid_request',
        `the request cannot be evaluated by store ${s.name}: ${(err as Error).message}`,
      )
    }
    observe?.(s.name, d.allowed, (performance.now() - started) / 1000)
    return d
  }

  return {
    storeOf,
    /** The native check: `label` names the tuple in errors (`request`, `requests[3]`). */
    check(store: string, tuple: unknown[], label = 'request'): CheckResult {
      const s = storeOf(store)
      checkElements(s, tuple, (i) => `${label}[${i}]`)
      const d = run(s, tuple)
      return { allowed: d.allowed, version: s.version, matched: d.matched }
    },
    /** AuthZEN evaluation against one store; the mapping problem, if any, is a 400. */
    evaluate(s: LoadedStore, req: EvaluationRequest): AuthzenDecision {
      const tuple = toTuple(req, s.shape, s.options.authzen_request)
      if (typeof tuple === 'string') throw badRequest('invalid_request', tuple)
      // the same rule as the native check: a context or property value mapped onto a plain
      // token (e.g. "domain": ["acme"]) must not be compared loosely
      checkElements(s, tuple, (i) => `the value the request gives for "${s.shape.tokens[i] ?? i}"`)
      const d = run(s, tuple)
      return { decision: d.allowed, context: { store: s.name, version: s.version } }
    },
  }
}
function describe(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'object') return 'an object'
  return `a ${typeof v}`
}

export type Decider = ReturnType<typeof decider>
