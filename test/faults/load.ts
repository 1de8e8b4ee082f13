import crypto from 'node:crypto'

/**
 * A small request load for the fault suites: the same few requests a deployment serves all
 * day (an OAuth token, an OIDC authorization page, one of our JSON APIs, one of our pages,
 * /readyz), each one's outcome and how long it took.
 */
export interface Outcome {
  name: string
  status?: number
  retryAfter?: string | null
  contentType?: string | null
  body: string
  ms: number
  /** a transport failure (reset, refused, our own abort after 30 s) instead of a response */
  error?: string
}

export type Probe = () => Promise<Outcome>

export function probe(name: string, url: string, init: RequestInit = {}): Probe {
  return async () => {
    const started = Date.now()
    try {
      // The abort only keeps a hanging request from hanging the suite; the assertions use a
      // bound well below it.
      const res = await fetch(url, { redirect: 'manual', ...init, signal: AbortSignal.timeout(30_000) })
      const body = await res.text()
      return {
        name,
        status: res.status,
        retryAfter: res.headers.get('retry-after'),
        contentType: res.headers.get('content-type'),
        body,
        ms: Date.now() - started,
      }
    } catch (err) {
      return { name, body: '', ms: Date.now() - started, error: String((err as Error)?.cause ?? err) }
    }
  }
}

/** `times` rounds of every probe, the probes of a round concurrently. */
export async function load(probes: Probe[], times = 3): Promise<Outcome[]> {
  const out: Outcome[] = []
  for (let i = 0; i < times; i++) out.push(...(await Promise.all(probes.map((p) => p()))))
  return out
}

/** Polls until every probe answers `status` (the dependency is back); rejects after `ms`. */
export async function until(probes: Probe[], status: number, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms
  let last: Outcome[] = []
  while (Date.now() < deadline) {
    last = await Promise.all(probes.map((p) => p()))
    if (last.every((o) => o.status === status)) return
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(
    `not recovered within ${ms} ms: ${JSON.stringify(last.map((o) => ({ name: o.name, status: o.status, error: o.error, body: o.body.slice(0, 200) })))}`,
  )
}

/** A shape for `expect(...).toEqual` that shows the offending outcome when a check fails. */
export const summary = (o: Outcome) => ({
  name: o.name,
  status: o.status,
  retryAfter: o.retryAfter,
  error: o.error,
  body: o.body.slice(0, 300),
})

export const CLIENT_SECRET = 'fault-suite-secret-0123456789abcdef'
export const REDIRECT_URI = 'https://app.example.com/cb'

/** What the suites import at start: a service client, a web client and one user. */
export const IMPORT_DOC = {
  clients: [
    {
      client_id: 'svc',
      client_secret: CLIENT_SECRET,
      grant_types: ['client_credentials'],
      response_types: [],
      scope: 'audit:read',
    },
    {
      client_id: 'web',
      client_secret: CLIENT_SECRET,
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      scope: 'openid',
    },
  ],
  users: [{ email: 'user@example.com', password: 'fault suite user password' }],
}

export const basic = `Basic ${Buffer.from(`svc:${CLIENT_SECRET}`).toString('base64')}`

/** The OAuth token endpoint: client credentials (oidc-provider, JSON). */
export const tokenProbe = (url: string, scope?: string) =>
  probe('token', `${url}/token`, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...(scope ? { scope } : {}) }).toString(),
  })

/** The OIDC authorization endpoint as a browser opens it (oidc-provider, a page). */
export const authorizeProbe = (url: string) =>
  probe(
    'authorize',
    `${url}/auth?${new URLSearchParams({
      client_id: 'web',
      response_type: 'code',
      scope: 'openid',
      redirect_uri: REDIRECT_URI,
      code_challenge: crypto
        .createHash('sha256')
        .update('fault-suite-verifier-0123456789abcdefghijklmn')
        .digest('base64url'),
      code_challenge_method: 'S256',
    })}`,
    { headers: { accept: 'text/html' } },
  )

/** One of our JSON APIs (reads the database). */
export const auditProbe = (url: string, token: string) =>
  probe('audit', `${url}/audit/v1/events?limit=1`, {
    headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
  })

export const readyProbe = (url: string) => probe('readyz', `${url}/readyz`)

/** A client-credentials JWT for our API with audit:read (taken while everything is up). */
export async function auditToken(url: string): Promise<string> {
  const o = await tokenProbe(url, 'audit:read')()
  if (o.status !== 200) throw new Error(`no token: ${o.status} ${o.body}`)
  return (JSON.parse(o.body) as { access_token: string }).access_token
}

/**
 * One of our own pages: the sign-in page of an interaction started while everything was up
 * (the interaction lives in Redis when REDIS_URL is set, else in the database).
 */
export async function signInPageProbe(url: string): Promise<Probe> {
  const res = await fetch(
    `${url}/auth?${new URLSearchParams({
      client_id: 'web',
      response_type: 'code',
      scope: 'openid',
      redirect_uri: REDIRECT_URI,
      code_challenge: crypto
        .createHash('sha256')
        .update('fault-suite-verifier-0123456789abcdefghijklmn')
        .digest('base64url'),
      code_challenge_method: 'S256',
    })}`,
    { redirect: 'manual', headers: { accept: 'text/html' } },
  )
  const location = res.headers.get('location')
  if (!location) throw new Error(`authorization did not redirect: ${res.status} ${(await res.text()).slice(0, 300)}`)
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ')
  const first = await fetch(new URL(location, url), { headers: { cookie, accept: 'text/html' }, redirect: 'manual' })
  if (first.status !== 200) throw new Error(`sign-in page: ${first.status} ${(await first.text()).slice(0, 300)}`)
  return probe('sign-in page', new URL(location, url).toString(), { headers: { cookie, accept: 'text/html' } })
}
