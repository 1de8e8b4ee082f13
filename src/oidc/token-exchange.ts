import * as jose from 'jose'
import type Provider from 'oidc-provider'
import { errors, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider'

/**
 * OAuth 2.0 Token Exchange (RFC 8693) of a user's access token: a service that received a user's
 * token exchanges it for a narrower one for another audience (another API it calls for the user).
 *
 * - subject_token: an access token we issued to a user (JWT or opaque), valid, not revoked, whose
 *   audience the calling client serves (its `resource_servers`) or that was issued to it.
 * - resource (RFC 8707) or audience: the target API, a registered resource with JWT tokens.
 * - scope: never more than the subject token carries, the target knows (within the calling
 *   client's registered scope) and the user's roles hold there now; default all of those.
 * - actor_token (an access token of the calling client itself, from client credentials) makes it
 *   delegation: the new token says who acts, `act: {"sub": "<client_id>"}` (§4.1), nested over an
 *   `act` the subject token already had. Without one it is impersonation: the token is the user's
 *   alone. Either is allowed only where the policy store TOKEN_EXCHANGE_POLICY_STORE says so for
 *   the request `["client:<client_id>", "<audience>", "delegate" | "impersonate"]`.
 * - The token lives at most TOKEN_EXCHANGE_TTL seconds and never past the subject token.
 */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt'
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth']

export type ExchangeMode = 'delegate' | 'impersonate'

export interface TokenExchangeDeps {
  jwks: { keys: jose.JWK[] }
  /** a JWT access token's jti was revoked (RFC 7009) */
  isRevoked(jti: string): Promise<boolean>
  /** the resource server for an indicator, its scopes limited to the client's registered scope */
  resourceServer(ctx: KoaContextWithOIDC, indicator: string, client: { scope?: string }): Promise<ResourceServer>
  /** the scopes an active user holds at a resource now; undefined for no such (or a disabled) user */
  heldAt(accountId: string, indicator: string): Promise<ReadonlySet<string> | undefined>
  /** the policy decision; `reason` says why not */
  decide(q: { clientId: string; audience: string; mode: ExchangeMode; subject: string }): {
    allowed: boolean
    reason?: string
  }
  maxTtl: number
  onExchanged?: (
    ctx: KoaContextWithOIDC,
    e: { subject: string; audience: string; mode: ExchangeMode; scope: string; expiresIn: number; act?: unknown },
  ) => void
  onRefused?: (ctx: KoaContextWithOIDC, e: { error: string; description: string }) => void
}

/** Claims the exchanged token carries beyond RFC 9068's: who acts (§4.1). */
const actClaims = new WeakMap<object, { act: unknown }>()
export const exchangeClaimsOf = (token: object) => actClaims.get(token)

interface Presented {
  sub: string
  clientId: string
  aud: string[]
  scope: string[]
  exp: number
  act?: unknown
  bound: boolean
}

const fail = (error: string, description: string) => new errors.CustomOIDCProviderError(error, description)

type Params = Record<string, string | string[] | undefined>
type ExchangeClient = NonNullable<KoaContextWithOIDC['oidc']['client']>

/** Public members only: the verification key set of our own access tokens. */
function publicKeySet(jwks: { keys: jose.JWK[] }) {
  const publicKeys = jwks.keys.map(
    (k) => Object.fromEntries(Object.entries(k).filter(([m]) => !PRIVATE_MEMBERS.includes(m))) as jose.JWK,
  )
  return jose.createLocalJWKSet({ keys: publicKeys })
}

/** A JWT access token we issued, verified offline, then checked against the revocation list. */
async function presentedJwt(
  provider: Provider,
  keySet: ReturnType<typeof jose.createLocalJWKSet>,
  deps: TokenExchangeDeps,
  token: string,
  what: string,
): Promise<Presented> {
  let claims: jose.JWTPayload
  try {
    claims = (
      await jose.jwtVerify(token, keySet, {
        issuer: provider.issuer,
        typ: 'at+jwt',
        algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      })
    ).payload
  } catch {
    throw fail('invalid_grant', `${what} is not a valid access token of this server`)
  }
  if (
    typeof claims.jti !== 'string' ||
    typeof claims.sub !== 'string' ||
    typeof claims.client_id !== 'string' ||
    (await deps.isRevoked(claims.jti))
  ) {
    throw fail('invalid_grant', `${what} is not a valid access token of this server`)
  }
  const aud = Array.isArray(claims.aud) ? claims.aud : claims.aud ? [claims.aud] : []
  return {
    sub: claims.sub,
    clientId: claims.client_id,
    aud,
    scope: String(claims.scope ?? '')
      .split(' ')
      .filter(Boolean),
    exp: claims.exp!,
    act: claims.act,
    bound: claims.cnf !== undefined,
  }
}

/** An opaque access token we issued: looked up in storage. */
async function presentedOpaque(provider: Provider, token: string, what: string): Promise<Presented> {
  const stored = await provider.AccessToken.find(token).catch(() => undefined)
  if (!stored || stored.isExpired || !stored.accountId)
    throw fail('invalid_grant', `${what} is not a valid access token of this server`)
  const aud = (stored as unknown as { aud?: string | string[] }).aud
  return {
    sub: stored.accountId,
    clientId: stored.clientId!,
    aud: Array.isArray(aud) ? aud : aud ? [aud] : [],
    scope: String(stored.scope ?? '')
      .split(' ')
      .filter(Boolean),
    exp: stored.exp!,
    act: actClaims.get(stored)?.act,
    bound: Boolean(
      (stored as unknown as { jkt?: string; 'x5t#S256'?: string }).jkt ||
      (stored as unknown as { 'x5t#S256'?: string })['x5t#S256'],
    ),
  }
}

/** The subject token may be exchanged by this client: it received it, it is a user's, and a bearer token. */
function assertExchangeable(client: ExchangeClient, subject: Presented) {
  // the service must have received the token: it serves its audience, or the token is its own
  const serves = (client.metadata().resource_servers as string[] | undefined) ?? []
  if (subject.clientId !== client.clientId && !subject.aud.some((a) => serves.includes(a))) {
    throw fail('invalid_grant', 'subject_token was issued neither to this client nor for a resource it serves')
  }
  if (subject.sub === subject.clientId)
    throw fail('invalid_grant', "subject_token is a client's own token, not a user's")
  // a sender-constrained token (DPoP, mTLS) would lose its binding in a bearer token
  if (subject.bound)
    throw fail(
      'invalid_grant',
      'subject_token is sender-constrained (DPoP or mTLS) and cannot be exchanged for a bearer token',
    )
}

/** Delegation (an actor token of the calling client itself, §4.1 `act`) or impersonation. */
async function actorOf(
  p: Params,
  client: ExchangeClient,
  subject: Presented,
  presented: (token: string, what: string) => Promise<Presented>,
): Promise<{ mode: ExchangeMode; act: unknown }> {
  let mode: ExchangeMode = 'impersonate'
  let act: unknown = subject.act
  if (p.actor_token !== undefined) {
    if (p.actor_token_type !== ACCESS_TOKEN_TYPE && p.actor_token_type !== JWT_TOKEN_TYPE)
      throw new errors.InvalidRequest(`actor_token_type must be ${ACCESS_TOKEN_TYPE}`)
    const actor = await presented(String(p.actor_token), 'actor_token')
    if (actor.clientId !== client.clientId || actor.sub !== client.clientId)
      throw fail(
        'invalid_grant',
        'actor_token must be an access token of the calling client itself (client credentials)',
      )
    mode = 'delegate'
    act = subject.act ? { sub: client.clientId, act: subject.act } : { sub: client.clientId }
  } else if (p.actor_token_type !== undefined) throw new errors.InvalidRequest('actor_token_type without actor_token')
  return { mode, act }
}

/** The target API (RFC 8707 resource or RFC 8693 audience): a registered resource with JWT tokens. */
async function targetOf(ctx: KoaContextWithOIDC, p: Params, client: ExchangeClient, deps: TokenExchangeDeps) {
  if (p.resource !== undefined && p.audience !== undefined && p.resource !== p.audience)
    throw new errors.InvalidTarget('give resource or audience, not two different targets')
  const audience = (p.resource ?? p.audience) as string | undefined
  if (!audience) throw new errors.InvalidTarget('name the target API with resource (or audience)')
  let info: ResourceServer
  try {
    info = await deps.resourceServer(ctx, audience, client)
  } catch {
    throw new errors.InvalidTarget(`${audience} is not a registered resource`)
  }
  if (info.accessTokenFormat !== 'jwt')
    throw new errors.InvalidTarget('tokens are exchanged only for resources with JWT access tokens')
  return { audience, info }
}

/** The scopes of the new token: in the subject token, known at the target, held by the user there. */
async function scopesOf(
  p: Params,
  subject: Presented,
  audience: string,
  info: ResourceServer,
  deps: TokenExchangeDeps,
) {
  const held = await deps.heldAt(subject.sub, audience)
  if (!held) throw fail('invalid_grant', "the subject_token's user no longer exists or is disabled")
  const known = new Set(
    String(info.scope ?? '')
      .split(' ')
      .filter(Boolean),
  )
  const grantable = subject.scope.filter((s) => known.has(s) && held.has(s))
  const requested = typeof p.scope === 'string' ? p.scope.split(' ').filter(Boolean) : undefined
  const refused = (requested ?? []).filter((s) => !grantable.includes(s))
  if (refused.length)
    throw new errors.InvalidScope(
      `not in the subject token, not a scope of ${audience} for this client, or not held by the user there: ${refused.join(' ')}`,
      refused.join(' '),
    )
  const scopes = requested ?? grantable
  if (!scopes.length)
    throw new errors.InvalidScope(`the subject token carries none of the scopes of ${audience} the user holds`, '')
  return scopes
}

export function accessTokenExchange(provider: Provider, deps: TokenExchangeDeps) {
  const keySet = publicKeySet(deps.jwks)

  /** A token we issued, still valid: JWT (verified offline, then the revocation list) or opaque (stored). */
  const presented = (token: string, what: string): Promise<Presented> =>
    token.split('.').length === 3
      ? presentedJwt(provider, keySet, deps, token, what)
      : presentedOpaque(provider, token, what)

  /** The grant handler for subject tokens of type access_token / jwt. */
  return async function exchange(ctx: KoaContextWithOIDC) {
    try {
      await run(ctx)
    } catch (err) {
      const e = err as { error?: string; error_description?: string; message: string }
      deps.onRefused?.(ctx, { error: e.error ?? 'server_error', description: e.error_description ?? e.message })
      throw err
    }
  }

  async function run(ctx: KoaContextWithOIDC) {
    const p = ctx.oidc.params as Params
    const client = ctx.oidc.client!
    for (const k of ['resource', 'audience', 'scope', 'actor_token', 'actor_token_type'] as const) {
      if (Array.isArray(p[k])) throw new errors.InvalidRequest(`${k} must be given once`)
    }
    if (client.clientAuthMethod === 'none')
      throw fail('unauthorized_client', "a public client cannot exchange a user's token")
    const subject = await presented(String(p.subject_token), 'subject_token')
    assertExchangeable(client, subject)
    const { mode, act } = await actorOf(p, client, subject, presented)
    const { audience, info } = await targetOf(ctx, p, client, deps)

    const decision = deps.decide({ clientId: client.clientId, audience, mode, subject: subject.sub })
    if (!decision.allowed)
      throw fail(
        'invalid_target',
        decision.reason ?? `the token exchange policy does not let ${client.clientId} ${mode} for ${audience}`,
      )

    const scopes = await scopesOf(p, subject, audience, info, deps)
    await issue(ctx, { subject, audience, info, scopes, mode, act })
  }

  /** Saves the new access token and answers (RFC 8693 §2.2.1). */
  async function issue(
    ctx: KoaContextWithOIDC,
    e: {
      subject: Presented
      audience: string
      info: ResourceServer
      scopes: string[]
      mode: ExchangeMode
      act: unknown
    },
  ) {
    const { subject, audience, info, scopes, mode, act } = e
    const client = ctx.oidc.client!
    const remaining = subject.exp - Math.floor(Date.now() / 1000)
    const ttl = Math.max(1, Math.min(info.accessTokenTTL ?? deps.maxTtl, deps.maxTtl, remaining))
    const token = new provider.AccessToken({
      accountId: subject.sub,
      client,
      scope: scopes.join(' '),
      gty: 'token_exchange',
    } as unknown as ConstructorParameters<typeof provider.AccessToken>[0])
    token.resourceServer = new provider.ResourceServer(audience, { ...info, accessTokenTTL: ttl })
    if (act !== undefined) actClaims.set(token, { act })
    ctx.oidc.entity('AccessToken', token)
    const value = await token.save()
    deps.onExchanged?.(ctx, {
      subject: subject.sub,
      audience,
      mode,
      scope: scopes.join(' '),
      expiresIn: ttl,
      ...(act !== undefined ? { act } : {}),
    })

    ctx.set('Cache-Control', 'no-store')
    // RFC 8693 §2.2.1
    ctx.body = {
      access_token: value,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: 'Bearer',
      expires_in: token.expiration,
      scope: scopes.join(' '),
    }
  }
}
