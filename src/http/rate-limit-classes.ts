/**
 * THE table of endpoint classes for rate limits (src/http/rate-limits.ts enforces it). A request
 * belongs to the first class whose method and path match; a path no class names falls into
 * `default` (IP-keyed), so a new endpoint is limited without anyone remembering to add it.
 * Each class is configurable with `RATE_LIMIT_<CLASS>` = `POINTS/SECONDS` or `off`
 * (src/config/env.ts); README "Rate limits and HTTP limits" documents the same table.
 *
 * key:     client     the OAuth client the request authenticates as or claims (Basic auth,
 *                     client_id, client_assertion's sub), falling back to the IP address
 *          credential the bearer credential (token or API key, hashed), falling back to the IP
 *          session    the account's sign-in session cookie, falling back to the IP
 *          ip         the client IP (TRUSTED_PROXIES decides whether X-Forwarded-For counts)
 * answer:  oauth      429 {"error":"temporarily_unavailable"} — RFC 6749 has no rate-limit
 *                     error code; temporarily_unavailable (§4.1.2.1) is the closest meaning
 *          page       429 HTML page
 *          api        429 our JSON error {"error":"rate_limited"}
 *          negotiate  page for browsers, JSON otherwise
 */
export type RateKey = 'client' | 'credential' | 'session' | 'ip'
export type RateAnswer = 'oauth' | 'page' | 'api' | 'negotiate'

export interface RateClass {
  name: string
  /** methods ('*' any) and a path pattern (matched against the whole path) */
  match: readonly { methods: readonly string[]; path: RegExp }[]
  key: RateKey
  answer: RateAnswer
  /** default budget: `points` requests per `duration` seconds per key; null: never limited */
  points: number | null
  duration: number
  /** why this class exists (README and docs) */
  note: string
}

const WRITE = ['POST', 'PUT', 'PATCH', 'DELETE'] as const
/** Decision endpoints: answered by the decision fast lane (src/http/decision-lane.ts). */
export const DECISION_PATH = /^\/(access\/v1\/evaluations?|authz\/v1\/stores\/[^/]+\/check(\/batch)?)$/

export const RATE_CLASSES: readonly RateClass[] = [
  {
    name: 'health',
    match: [{ methods: ['*'], path: /^\/(healthz|readyz|metrics)$/ }],
    key: 'ip',
    answer: 'api',
    points: null,
    duration: 60,
    note: 'probes and scrapes are never refused (a load balancer must see the truth)',
  },
  // Decisions are the PDP's hot path: a gateway asks once per API call it guards, so limiting
  // them turns a burst into an outage; they need a valid token with authz:check, and API keys
  // carry their own per-key limit. Policy *changes* are limited (class policy).
  {
    name: 'decision',
    match: [{ methods: ['POST'], path: DECISION_PATH }],
    key: 'credential',
    answer: 'api',
    points: null,
    duration: 60,
    note: 'policy decisions: never limited (hot path; callers are authenticated)',
  },
  {
    name: 'token',
    match: [{ methods: ['POST'], path: /^\/token$/ }],
    key: 'client',
    answer: 'oauth',
    points: 600,
    duration: 60,
    note: 'token endpoint, per client',
  },
  {
    name: 'introspection',
    match: [{ methods: ['POST'], path: /^\/token\/introspection$/ }],
    key: 'client',
    answer: 'oauth',
    points: 3000,
    duration: 60,
    note: 'token introspection (RFC 7662), per resource server',
  },
  {
    name: 'revocation',
    match: [{ methods: ['POST'], path: /^\/token\/revocation$/ }],
    key: 'client',
    answer: 'oauth',
    points: 600,
    duration: 60,
    note: 'token revocation (RFC 7009), per client',
  },
  {
    name: 'par',
    match: [{ methods: ['POST'], path: /^\/request$/ }],
    key: 'client',
    answer: 'oauth',
    points: 300,
    duration: 60,
    note: 'pushed authorization requests (RFC 9126), per client',
  },
  {
    name: 'device_authorization',
    match: [{ methods: ['POST'], path: /^\/device\/auth$/ }],
    key: 'client',
    answer: 'oauth',
    points: 120,
    duration: 60,
    note: 'device authorization (RFC 8628 §3.1), per client',
  },
  // RFC 8628 §5.1: user codes are short; the page where they are typed must be rate limited.
  {
    name: 'device',
    match: [{ methods: ['GET', 'POST'], path: /^\/device(\/.*)?$/ }],
    key: 'ip',
    answer: 'page',
    points: 60,
    duration: 60,
    note: 'user-code entry page (RFC 8628 §5.1 brute force), per IP',
  },
  {
    name: 'mfa',
    match: [{ methods: ['POST'], path: /^\/interaction\/[^/]+\/(mfa|enrol)(\/.*)?$/ }],
    key: 'ip',
    answer: 'page',
    points: 60,
    duration: 60,
    note: 'second-factor and enrolment posts, per IP (each account also has its own lockout)',
  },
  {
    name: 'signin',
    match: [{ methods: ['POST'], path: /^\/interaction\/.+$/ }],
    key: 'ip',
    answer: 'page',
    points: 120,
    duration: 60,
    note: 'sign-in posts (password, passkey, consent), per IP (each account also has its own lockout)',
  },
  // Issue 14 §4: sign-ups are expensive for us (a mail each) and attractive to bots; each
  // address also has its own silent budget (REGISTRATION_PER_ADDRESS).
  {
    name: 'signup',
    match: [{ methods: ['POST'], path: /^\/register$/ }],
    key: 'ip',
    answer: 'page',
    points: 10,
    duration: 3600,
    note: 'self-registration posts, per IP (each address also has its own budget)',
  },
  // RFC 7591 registration (DYNAMIC_REGISTRATION): each one stores a client and hashes a secret.
  {
    name: 'client_registration',
    match: [{ methods: ['POST'], path: /^\/reg$/ }],
    key: 'ip',
    answer: 'oauth',
    points: 30,
    duration: 3600,
    note: 'dynamic client registrations (RFC 7591), per IP',
  },
  {
    name: 'account',
    match: [{ methods: [...WRITE], path: /^\/account(\/.*)?$/ }],
    key: 'session',
    answer: 'page',
    points: 120,
    duration: 60,
    note: 'account page changes, per session',
  },
  {
    name: 'policy',
    match: [{ methods: [...WRITE], path: /^\/(authz|access)\/v1(\/.*)?$/ }],
    key: 'credential',
    answer: 'api',
    points: 120,
    duration: 60,
    note: 'policy store changes, per caller',
  },
  {
    name: 'apikeys',
    match: [{ methods: ['*'], path: /^\/apikeys\/v1(\/.*)?$/ }],
    key: 'credential',
    answer: 'api',
    points: 1200,
    duration: 60,
    note: 'API key management and verification, per caller',
  },
  {
    name: 'audit',
    match: [{ methods: ['*'], path: /^\/audit\/v1(\/.*)?$/ }],
    key: 'credential',
    answer: 'api',
    points: 300,
    duration: 60,
    note: 'audit log reads, reports and checkpoints, per caller',
  },
  // The admin API (/admin/v1) and, when it arrives, the console.
  {
    name: 'admin',
    match: [{ methods: ['*'], path: /^\/admin(\/.*)?$/ }],
    key: 'credential',
    answer: 'negotiate',
    points: 600,
    duration: 60,
    note: 'admin API and console, per caller',
  },
  {
    name: 'default',
    match: [{ methods: ['*'], path: /^/ }],
    key: 'ip',
    answer: 'negotiate',
    points: 3000,
    duration: 60,
    note: 'everything else (discovery, JWKS, /auth, userinfo, pages, assets and endpoints added later), per IP',
  },
]

export const rateLimitEnvName = (c: Pick<RateClass, 'name'>) => `RATE_LIMIT_${c.name.toUpperCase()}`

/** The class of a request; never undefined (the last class matches every path). */
export function rateClassOf(method: string, path: string, classes: readonly RateClass[] = RATE_CLASSES): RateClass {
  for (const c of classes) {
    for (const m of c.match) {
      if ((m.methods.includes('*') || m.methods.includes(method)) && m.path.test(path)) return c
    }
  }
  return classes[classes.length - 1]!
}

export interface RateLimit {
  points: number
  duration: number
}

/** Parses `POINTS/SECONDS` or `off`; a string is an error message. */
export function parseRateLimit(value: string): RateLimit | null | string {
  if (/^(off|none|0)$/i.test(value.trim())) return null
  const m = /^\s*(\d{1,9})\s*\/\s*(\d{1,7})\s*s?\s*$/.exec(value)
  if (!m) return 'must be POINTS/SECONDS (e.g. 600/60) or off'
  const points = Number(m[1])
  const duration = Number(m[2])
  if (points < 1 || duration < 1) return 'points and seconds must be at least 1 (or use off)'
  return { points, duration }
}
