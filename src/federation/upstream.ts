import * as oidc from 'openid-client'
import { importJWK, type JWK } from 'jose'
import { z } from 'zod'
import { isLoopback, type ResolvedProvider } from './schema.ts'
import { FederationRefused } from './errors.ts'
import { textProblem } from '../storable-text.ts'

/**
 * The relying-party side of an upstream sign-in, with openid-client: the authorization request
 * (state, nonce, PKCE) and the callback (code exchange, ID token validation, userinfo). Nothing
 * here touches accounts; it turns an upstream answer into a checked `UpstreamProfile`.
 */

/** The pieces of one upstream authorization request, kept server-side in the interaction. */
export interface Transaction {
  alias: string
  state: string
  nonce?: string
  verifier?: string
}

export interface UpstreamProfile {
  provider: string
  subject: string
  email?: string
  emailVerified: boolean
  name?: string
  /** roles from default_roles and role_mappings */
  roles: string[]
  /** the upstream's RFC 8176 amr values (OIDC only) */
  amr: string[]
}

export interface ProviderCredentials {
  secret?: string
  privateJwk?: Record<string, unknown>
}

// RFC 8176 §2 registered values; anything else an upstream sends is dropped from our amr.
const RFC8176 = new Set([
  'face',
  'fpt',
  'geo',
  'hwk',
  'iris',
  'kba',
  'mca',
  'mfa',
  'otp',
  'pin',
  'pop',
  'pwd',
  'rba',
  'retina',
  'sc',
  'sms',
  'swk',
  'tel',
  'user',
  'vbm',
  'wia',
])
const TIMEOUT_SECONDS = 10

const emailSchema = z.email().max(320)
const printable = (v: unknown, max: number) => {
  if (typeof v === 'number' && Number.isSafeInteger(v)) v = String(v)
  if (typeof v !== 'string') return undefined
  const s = v.trim()
  // the value reaches storage: no control characters (NUL included), bounded, valid UTF-16
  return s && s.length <= max && !/[\x00-\x1f\x7f]/.test(s) && !textProblem(s) ? s : undefined
}

/** A claim by dotted path (`realm_access.roles`); a flat claim containing dots wins. */
export function claimAt(claims: Record<string, unknown>, path: string): unknown {
  if (path in claims) return claims[path]
  let cur: unknown = claims
  for (const part of path.split('.')) {
    if (!cur || typeof cur !== 'object') return undefined
    cur = (cur as Record<string, unknown>)[part]
  }
  return cur
}

function mappedRoles(p: ResolvedProvider, claims: Record<string, unknown>): string[] {
  const roles = new Set(p.defaultRoles)
  for (const m of p.roleMappings) {
    const v = claimAt(claims, m.claim ?? p.claims.roles)
    const values = (Array.isArray(v) ? v : [v]).map((x) => (typeof x === 'number' ? String(x) : x))
    if (values.includes(m.value)) for (const r of m.roles) roles.add(r)
  }
  return [...roles].sort()
}

async function clientAuth(p: ResolvedProvider, c: ProviderCredentials): Promise<oidc.ClientAuth> {
  if (p.authMethod === 'private_key_jwt') {
    const jwk = c.privateJwk as JWK
    const alg =
      jwk.alg ?? (jwk.kty === 'RSA' ? 'RS256' : jwk.kty === 'OKP' ? 'EdDSA' : jwk.crv === 'P-384' ? 'ES384' : 'ES256')
    const key = await importJWK(jwk, alg)
    if (key instanceof Uint8Array) throw new Error('private_key_jwk must be an asymmetric private key')
    return oidc.PrivateKeyJwt({ key, kid: jwk.kid })
  }
  return p.authMethod === 'client_secret_post' ? oidc.ClientSecretPost(c.secret) : oidc.ClientSecretBasic(c.secret)
}

/** The openid-client configuration for a provider: discovery (OIDC) or the configured endpoints. */
export async function rpConfiguration(p: ResolvedProvider, c: ProviderCredentials): Promise<oidc.Configuration> {
  const auth = await clientAuth(p, c)
  const insecure = (u?: string) => Boolean(u && new URL(u).protocol === 'http:' && isLoopback(new URL(u).hostname))
  let config: oidc.Configuration
  if (p.type === 'oidc') {
    // OIDC Discovery §4: the issuer's metadata, whose `issuer` must equal the configured one.
    config = await oidc.discovery(new URL(p.issuer!), p.clientId, { client_id: p.clientId }, auth, {
      timeout: TIMEOUT_SECONDS,
      ...(insecure(p.issuer) ? { execute: [oidc.allowInsecureRequests] } : {}),
    })
  } else {
    const meta = {
      issuer: new URL(p.authorizationEndpoint!).origin,
      authorization_endpoint: p.authorizationEndpoint!,
      token_endpoint: p.tokenEndpoint!,
    }
    config = new oidc.Configuration(meta, p.clientId, { client_id: p.clientId }, auth)
    if ([p.authorizationEndpoint, p.tokenEndpoint, p.userinfoEndpoint].some(insecure))
      oidc.allowInsecureRequests(config)
  }
  config.timeout = TIMEOUT_SECONDS
  return config
}

/** The authorization request: state (bound to our interaction), nonce (OIDC), PKCE S256. */
export async function authorizationRequest(
  p: ResolvedProvider,
  config: oidc.Configuration,
  redirectUri: string,
  uid: string,
  loginHint?: string,
) {
  // Our interaction id rides in state so the fixed callback can find the interaction; the random
  // part is what is checked (RFC 6749 §10.12).
  const tx: Transaction = { alias: p.alias, state: `${uid}.${oidc.randomState()}` }
  const params: Record<string, string> = {
    redirect_uri: redirectUri,
    scope: p.scopes.join(' '),
    state: tx.state,
    response_type: 'code',
  }
  if (p.type === 'oidc') {
    tx.nonce = oidc.randomNonce()
    params.nonce = tx.nonce
    if (loginHint) params.login_hint = loginHint
  }
  if (p.pkce) {
    tx.verifier = oidc.randomPKCECodeVerifier()
    params.code_challenge = await oidc.calculatePKCECodeChallenge(tx.verifier)
    params.code_challenge_method = 'S256'
  }
  return { url: oidc.buildAuthorizationUrl(config, params), tx }
}

/** The uid our state carries, if it has the shape we gave it. */
export function uidOfState(state: string | undefined): string | undefined {
  const m = /^([A-Za-z0-9_-]{1,128})\.[A-Za-z0-9_-]{20,100}$/.exec(state ?? '')
  return m?.[1]
}

/**
 * The callback: checks state against the transaction, exchanges the code, validates the ID token
 * (signature, iss, aud, exp, nonce: OIDC Core §3.1.3.7) and reads the user's claims.
 */
export async function completeAuthorization(
  p: ResolvedProvider,
  config: oidc.Configuration,
  callbackUrl: URL,
  tx: Transaction,
): Promise<UpstreamProfile> {
  const q = callbackUrl.searchParams
  if (q.get('state') !== tx.state) throw new FederationRefused('state_mismatch')
  if (q.get('error')) throw new FederationRefused('upstream_error', printable(q.get('error'), 100) ?? 'error')
  let tokens
  try {
    tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
      expectedState: tx.state,
      ...(tx.verifier ? { pkceCodeVerifier: tx.verifier } : {}),
      ...(tx.nonce ? { expectedNonce: tx.nonce } : {}),
      idTokenExpected: p.type === 'oidc',
    })
  } catch (e) {
    const err = e as Error & { error?: unknown; error_description?: unknown }
    // OIDC Core §3.1.3.7 step 11: oauth4webapi names the claim that did not match, a cause or two down.
    if (failedClaim(e) === 'nonce') throw new FederationRefused('nonce_mismatch', 'ID token nonce does not match')
    const message =
      typeof err.error === 'string' ? `${err.error}: ${String(err.error_description ?? '')}` : (err.message ?? '')
    if (isNetworkError(e)) throw e
    throw new FederationRefused('invalid_response', message.slice(0, 200))
  }
  let claims: Record<string, unknown>
  let amr: string[] = []
  if (p.type === 'oidc') {
    const idToken = tokens.claims()!
    claims = { ...idToken }
    amr = (Array.isArray(idToken.amr) ? idToken.amr : []).filter(
      (a): a is string => typeof a === 'string' && RFC8176.has(a),
    )
    if (config.serverMetadata().userinfo_endpoint) {
      // OIDC Core §5.3.2: the userinfo `sub` must equal the ID token's.
      const info = await oidc.fetchUserInfo(config, tokens.access_token, idToken.sub)
      claims = { ...info, ...idToken }
    }
  } else {
    claims = (await fetchJson(config, tokens.access_token, p.userinfoEndpoint!)) as Record<string, unknown>
    if (!claims || typeof claims !== 'object' || Array.isArray(claims))
      throw new FederationRefused('invalid_response', 'user endpoint did not return an object')
    if (p.emailsEndpoint)
      Object.assign(claims, primaryEmail(await fetchJson(config, tokens.access_token, p.emailsEndpoint)))
  }
  const subject = printable(claimAt(claims, p.claims.subject), 255)
  if (!subject) throw new FederationRefused('no_subject')
  const rawEmail = printable(claimAt(claims, p.claims.email), 320)?.toLowerCase()
  const email = rawEmail && emailSchema.safeParse(rawEmail).success ? rawEmail : undefined
  const verified = claimAt(claims, p.claims.emailVerified)
  return {
    provider: p.alias,
    subject,
    email,
    // An absent claim is "not verified" unless the operator vouches for this upstream.
    emailVerified: verified === true || verified === 'true' || (verified === undefined && p.trustEmail),
    name: printable(claimAt(claims, p.claims.name), 200),
    roles: mappedRoles(p, claims),
    amr,
  }
}

function failedClaim(e: unknown): unknown {
  for (let c = e as { cause?: unknown; claim?: unknown } | undefined, i = 0; c && i < 4; c = c.cause as typeof c, i++) {
    if (c.claim !== undefined) return c.claim
  }
  return undefined
}

/** GitHub-style /user/emails: the primary address and whether the upstream verified it. */
function primaryEmail(list: unknown): Record<string, unknown> {
  if (!Array.isArray(list)) return {}
  const primary = list.find((e) => e && typeof e === 'object' && (e as { primary?: unknown }).primary === true) as
    { email?: unknown; verified?: unknown } | undefined
  return primary ? { email: primary.email, email_verified: primary.verified === true } : {}
}

async function fetchJson(config: oidc.Configuration, accessToken: string, url: string): Promise<unknown> {
  const res = await oidc.fetchProtectedResource(
    config,
    accessToken,
    new URL(url),
    'GET',
    undefined,
    new Headers({ accept: 'application/json' }),
  )
  if (!res.ok) throw new FederationRefused('invalid_response', `${new URL(url).pathname} answered ${res.status}`)
  const text = await res.text()
  if (text.length > 1_000_000) throw new FederationRefused('invalid_response', 'user endpoint answer too large')
  try {
    return JSON.parse(text)
  } catch {
    throw new FederationRefused('invalid_response', 'user endpoint did not return JSON')
  }
}

/** A network failure or timeout talking to the upstream (then: 503, not a refusal). */
export function isNetworkError(e: unknown): boolean {
  const err = e as { name?: string; cause?: { code?: string; name?: string }; code?: string }
  return (
    err?.name === 'TimeoutError' ||
    err?.name === 'AbortError' ||
    // fetch() wraps every network failure in a TypeError whose cause is the network error; a URL
    // it cannot parse is a TypeError too, caused by ERR_INVALID_URL (not a network failure).
    (err instanceof TypeError &&
      err.cause instanceof Error &&
      (err.cause as { code?: string }).code !== 'ERR_INVALID_URL') ||
    err?.cause?.name === 'TimeoutError' ||
    Boolean(err?.cause?.code && /^(ECONN|ENOTFOUND|EAI_|ETIMEDOUT|UND_ERR)/.test(err.cause.code))
  )
}
