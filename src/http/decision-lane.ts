import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import { attachBufferedBody, jsonTooDeep } from './body.ts'
import { hasAnyScope, type Caller } from './middleware/authn.ts'
import { loggableRequestId, logRequest, requestIdFrom } from './middleware/request.ts'
import { jsonBodyProblem } from './middleware/input-guard.ts'
import { securityHeaderList } from './middleware/security-headers.ts'
import { parseParams, parseQueryAndBody, routeMatcher, type Route, type RouteInput } from './contract.ts'

export interface DecisionLaneDeps {
  /** the routes the lane may answer: pure routes (contract.ts) with a JSON body, no query */
  routes: readonly Route[]
  /** verifies a portcullis access token (JWT) offline; undefined when it is not valid */
  verifyAccessToken: (token: string, req: IncomingMessage) => Promise<Caller | undefined>
  /** counts one answered request (the metrics capability's recordHttp; http/ imports no capability) */
  recordRequest: (method: string, route: string, status: number, seconds: number) => void
  logger: Logger
  https: boolean
}

interface Match {
  route: Route
  params: Record<string, string>
}

const BODY_LIMIT = 1024 * 1024

/**
 * The decision fast lane. Decision requests are the hot path of a PDP: a gateway sends one per
 * API call it guards. Through the full Koa stack each cost about twice the CPU of the decision
 * work itself, so this handler answers them on the raw Node request instead: same calls
 * (the same route declarations and handlers, authz/routes.ts decisionRoutes), same validation, same
 * headers, access log and metrics as the Koa routes.
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
  const laneRoutes = deps.routes.filter(
    (r) => r.pure && r.contract.method === 'post' && r.contract.auth !== 'public' && !r.contract.query,
  )
  const match = routeMatcher(laneRoutes)

  /** The contract's steps in mountRoutes' order: scope, route authority, params, body, handler. */
  function run({ route, params }: Match, caller: Caller, json: unknown): unknown {
    const c = route.contract
    if (c.auth === 'public' || !hasAnyScope(caller, ...c.auth.scopes)) throw new Error('not for the lane')
    route.authorize?.({ caller, params })
    const parsedParams = parseParams(c, params)
    const { query, body } = parseQueryAndBody(c, {}, json)
    return route.pure!({ caller, params: parsedParams, query, body } as RouteInput<typeof c>)
  }

  async function answer(
    req: IncomingMessage,
    res: ServerResponse,
    m: Match,
    body: Buffer,
    started: number,
  ): Promise<boolean> {
    const token = /^Bearer +([\w-]+\.[\w-]+\.[\w-]+)$/i.exec(req.headers.authorization ?? '')?.[1]
    if (!token) return false
    const caller = await deps.verifyAccessToken(token, req) // req: a certificate-bound token's certificate
    if (!caller) return false
    // Hostile strings (NUL, lone surrogates, invalid UTF-8): Koa refuses them with the 400.
    if (jsonBodyProblem(body)) return false
    let result: unknown
    const text = body.toString('utf8')
    if (jsonTooDeep(text)) return false // Koa answers the 400 (readJson)
    try {
      result = run(m, caller, JSON.parse(text))
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
      ...(m.route.contract.timing
        ? [['Server-Timing', `${m.route.contract.timing};dur=${ms.toFixed(3)}`] as [string, string]]
        : []),
    ]
    res.writeHead(200, headers.flat())
    res.end(payload)
    deps.recordRequest('POST', m.route.contract.path, 200, ms / 1000)
    logRequest(deps.logger, {
      requestId: loggableRequestId(requestId),
      method: 'POST',
      path: req.url!,
      status: 200,
      ms: Math.round(ms * 10) / 10,
    })
    return true
  }

  /** Takes the request (and returns true) if it is a decision request; `next` gets everything else. */
  return function take(
    req: IncomingMessage,
    res: ServerResponse,
    next: (req: IncomingMessage, res: ServerResponse) => void,
  ): boolean {
    // a query string (or fragment) goes to Koa: the lane's routes declare none
    if (req.method !== 'POST' || !req.url || /[?#]/.test(req.url)) return false
    const m = match('post', req.url)
    if (!m) return false
    const length = Number(req.headers['content-length'])
    if (!(length > 0 && length <= BODY_LIMIT) || !/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? ''))
      return false
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
      answer(req, res, m, body, started).then(
        (done) => done || pass(),
        (err: unknown) => {
          deps.logger.warn({ err }, 'decision lane failed; answering through Koa')
          if (!res.headersSent) pass()
        },
      )
    })
    return true
  }
}
export type DecisionLane = ReturnType<typeof decisionLane>
