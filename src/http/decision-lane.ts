import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import type { Metrics } from '../metrics/registry.ts'
import { recordHttp } from '../metrics/http.ts'
import { attachBufferedBody, jsonTooDeep } from './body.ts'
import { hasAnyScope, type Caller } from './middleware/authn.ts'
import { loggableRequestId, logRequest, requestIdFrom } from './middleware/request.ts'
import { jsonBodyProblem } from './middleware/input-guard.ts'
import { securityHeaderList } from './middleware/security-headers.ts'
import type { DecisionCalls } from './authz.ts'

export interface DecisionLaneDeps {
  calls: DecisionCalls
  /** verifies a portcullis access token (JWT) offline; undefined when it is not valid */
  verifyAccessToken: (token: string) => Promise<Caller | undefined>
  metrics: Metrics
  logger: Logger
  https: boolean
}

type Handler = (caller: Caller, body: unknown) => unknown
interface Route { template: string; handle: Handler }

const BODY_LIMIT = 1024 * 1024
const STORE_CHECK = /^\/authz\/v1\/stores\/([a-z0-9][a-z0-9_-]{0,63})\/check(\/batch)?$/

/**
 * The decision fast lane. Decision requests are the hot path of a PDP: a gateway sends one per
 * API call it guards. Through the full Koa stack each cost about twice the CPU of the decision
 * work itself, so this handler answers them on the raw Node request instead: same calls
 * (decisionCalls), same headers, access log and metrics as the Koa routes.
 *
 * It only takes what it can finish: POST of a JSON body with a Content-Length, authenticated
 * with a valid portcullis access token that carries the scope, and a request the calls accept.
 * Everything else (API keys, which need IP allowlists, signatures and rate limits; every error)
 * goes on to Koa with the body already read, so error responses have one source.
 *
 * Decisions have no endpoint-class rate limit (class `decision` in http/rate-limit-classes.ts):
 * a gateway asks once per call it guards, so a limit would turn a burst into an outage, and
 * every caller here already holds a valid token with authz:check. Bodies nested deeper than
 * JSON_MAX_DEPTH go on to Koa, which refuses them.
 */
export function decisionLane(deps: DecisionLaneDeps) {
  const security = securityHeaderList({ https: deps.https })
  const routes = new Map<string, Route>([
    ['/access/v1/evaluation', { template: '/access/v1/evaluation', handle: (c, b) => deps.calls.evaluation(c, b) }],
    ['/access/v1/evaluations', { template: '/access/v1/evaluations', handle: (c, b) => deps.calls.evaluations(c, b) }],
  ])

  function routeOf(url: string): Route | undefined {
    const fixed = routes.get(url)
    if (fixed) return fixed
    const m = STORE_CHECK.exec(url)
    if (!m) return undefined
    const store = m[1]!
    return m[2]
      ? { template: '/authz/v1/stores/:store/check/batch', handle: (c, b) => deps.calls.checkBatch(c, store, b) }
      : { template: '/authz/v1/stores/:store/check', handle: (c, b) => deps.calls.check(c, store, b) }
  }

  async function answer(req: IncomingMessage, res: ServerResponse, route: Route, body: Buffer, started: number): Promise<boolean> {
    const token = /^Bearer +([\w-]+\.[\w-]+\.[\w-]+)$/i.exec(req.headers.authorization ?? '')?.[1]
    if (!token) return false
    const caller = await deps.verifyAccessToken(token)
    if (!caller || !hasAnyScope(caller, 'authz:check', 'authz:admin')) return false
    // Hostile strings (NUL, lone surrogates, invalid UTF-8): Koa refuses them with the 400.
    if (jsonBodyProblem(body)) return false
    let result: unknown
    const text = body.toString('utf8')
    if (jsonTooDeep(text)) return false // Koa answers the 400 (readJson)
    try {
      result = route.handle(caller, JSON.parse(text))
    } catch {
      return false // Koa answers with the error, in its one error shape
    }
    const payload = JSON.stringify(result)
    const requestId = requestIdFrom(req.headers['x-request-id'] as string | undefined)
    const ms = performance.now() - started
    const headers: [string, string][] = [
      ['X-Request-ID', requestId], // echoed exactly, as requestContext does
      ...security,
      ['Content-Type', 'application/json; charset=utf-8'],
      ['Content-Length', String(Buffer.byteLength(payload))],
      // W3C Server-Timing, as the Koa routes report it
      ['Server-Timing', `pdp;dur=${ms.toFixed(3)}`],
    ]
    res.writeHead(200, headers.flat())
    res.end(payload)
    recordHttp(deps.metrics, 'POST', route.template, 200, ms / 1000)
    logRequest(deps.logger, { requestId: loggableRequestId(requestId), method: 'POST', path: req.url!, status: 200, ms: Math.round(ms * 10) / 10 })
    return true
  }

  /** Takes the request (and returns true) if it is a decision request; `next` gets everything else. */
  return function take(req: IncomingMessage, res: ServerResponse, next: (req: IncomingMessage, res: ServerResponse) => void): boolean {
    if (req.method !== 'POST' || !req.url) return false
    const route = routeOf(req.url)
    if (!route) return false
    const length = Number(req.headers['content-length'])
    if (!(length > 0 && length <= BODY_LIMIT) || !/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) return false
    const started = performance.now()
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      chunks.push(chunk)
    })
    req.once('end', () => {
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)
      const pass = () => {
        attachBufferedBody(req, body)
        next(req, res)
      }
      answer(req, res, route, body, started).then((done) => done || pass(), (err: unknown) => {
        deps.logger.warn({ err }, 'decision lane failed; answering through Koa')
        if (!res.headersSent) pass()
      })
    })
    return true
  }
}
export type DecisionLane = ReturnType<typeof decisionLane>
