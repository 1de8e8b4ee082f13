import crypto from 'node:crypto'
import * as jose from 'jose'
import { CONSOLE_CLIENT_ID } from '../../oidc/login-policy.ts'
import { ACR_MFA } from '../../identity/acr.ts'
import type { ApiAnswer, ConsoleApi } from './api.ts'
import type { Capabilities, ConsoleSession, ConsoleSessions } from './session.ts'

/** A user id no user has: the probes below learn "allowed" (404) from "forbidden" (403) with it. */
const PROBE_ID = 'console-capability-probe'
const LOGIN_TTL_MS = 10 * 60_000

export class ConsoleSignInError extends Error {
  constructor(
    message: string,
    readonly reason: 'not_admin' | 'failed',
  ) {
    super(message)
  }
}

const b64url = (b: Buffer) => b.toString('base64url')

/** Learns what the operator may do from the admin API's answers (403 = not allowed). */
async function capabilities(api: ConsoleApi, token: string, ip: string): Promise<Capabilities> {
  const get = (p: string) => api.call('GET', p, { token, ip })
  // authority first, then the lookup: 404 for an unknown id means "you may"
  const post = (p: string, json?: unknown) => api.call('POST', p, { token, ip, json })
  const [
    users,
    clients,
    care,
    roles,
    keys,
    keysRotate,
    apiKeys,
    apiKeysWrite,
    resources,
    policies,
    audit,
    reviews,
    containUser,
    containClient,
  ] = await Promise.all([
    get('/admin/v1/users?limit=1'),
    get('/admin/v1/clients?limit=1'),
    post(`/admin/v1/users/${PROBE_ID}/unlock`),
    post('/admin/v1/roles/admin/members', { member: `user:${PROBE_ID}` }),
    get('/admin/v1/signing-keys?limit=1'),
    post(`/admin/v1/signing-keys/${PROBE_ID}/retire`),
    get('/admin/v1/api-keys?limit=1'),
    post(`/admin/v1/api-keys/${PROBE_ID}/revoke`, {}),
    get('/admin/v1/resources?limit=1'),
    get('/admin/v1/policy-stores'),
    get('/admin/v1/audit/events?limit=1'),
    get('/admin/v1/access-reviews?limit=1'),
    post(`/admin/v1/users/${PROBE_ID}/contain`, { reason: 'capability probe' }),
    post(`/admin/v1/clients/${PROBE_ID}/contain`, { reason: 'capability probe' }),
  ])
  const ok = (a: ApiAnswer) => a.status === 200
  const may = (a: ApiAnswer) => a.status === 404
  return {
    users: ok(users),
    clients: ok(clients),
    userCare: may(care),
    roles: may(roles),
    keys: ok(keys),
    keysRotate: may(keysRotate),
    apiKeys: ok(apiKeys),
    apiKeysWrite: may(apiKeysWrite),
    resources: ok(resources),
    policies: ok(policies),
    audit: ok(audit),
    reviews: ok(reviews),
    containUser: may(containUser),
    containClient: may(containClient),
  }
}

/**
 * The console's sign-in (issue 12 §3) as an ordinary OIDC relying party of its own issuer:
 * authorization code with PKCE (RFC 7636, S256), state and nonce, the code redeemed at the
 * token endpoint, then what the operator may do learned from the admin API itself.
 */
export function consoleService(deps: {
  api: ConsoleApi
  sessions: ConsoleSessions
  publicUrl: string
  requireMfa: boolean
}) {
  const redirectUri = `${deps.publicUrl}/admin/callback`

  async function startLogin() {
    const verifier = b64url(crypto.randomBytes(32))
    const state = b64url(crypto.randomBytes(16))
    const nonce = b64url(crypto.randomBytes(16))
    const pendingId = await deps.sessions.pending({ state, nonce, verifier, expiresAt: Date.now() + LOGIN_TTL_MS })
    const url = new URL('/auth', deps.publicUrl)
    url.search = new URLSearchParams({
      client_id: CONSOLE_CLIENT_ID,
      response_type: 'code',
      redirect_uri: redirectUri,
      scope: 'openid email admin',
      state,
      nonce,
      code_challenge: b64url(crypto.createHash('sha256').update(verifier).digest()),
      code_challenge_method: 'S256',
      ...(deps.requireMfa ? { acr_values: ACR_MFA } : {}),
    }).toString()
    return { pendingId, url: url.toString() }
  }

  async function finishLogin(
    q: Record<string, string | undefined>,
    pendingId: string | undefined,
    ip: string,
  ): Promise<ConsoleSession> {
    const pending = await deps.sessions.takePending(pendingId)
    if (!pending || !q.state || q.state !== pending.state)
      throw new ConsoleSignInError('The sign-in expired or was started elsewhere. Sign in again.', 'failed')
    if (q.error)
      throw new ConsoleSignInError(`The sign-in did not complete: ${q.error_description ?? q.error}`, 'failed')
    if (!q.code) throw new ConsoleSignInError('The sign-in returned no code. Sign in again.', 'failed')
    const res = await deps.api.call<{ access_token?: string; id_token?: string; expires_in?: number; scope?: string }>(
      'POST',
      '/token',
      {
        ip,
        form: {
          grant_type: 'authorization_code',
          code: q.code,
          redirect_uri: redirectUri,
          code_verifier: pending.verifier,
          client_id: CONSOLE_CLIENT_ID,
        },
      },
    )
    if (res.status !== 200 || !res.body.access_token || !res.body.id_token)
      throw new ConsoleSignInError('The sign-in could not be completed. Sign in again.', 'failed')
    // The ID token came straight from our own token endpoint (OIDC Core §3.1.3.7 allows the
    // TLS server validation in place of the signature check); its claims are still checked.
    const claims = jose.decodeJwt(res.body.id_token)
    if (
      claims.nonce !== pending.nonce ||
      claims.iss !== deps.publicUrl ||
      claims.aud !== CONSOLE_CLIENT_ID ||
      typeof claims.sub !== 'string'
    ) {
      throw new ConsoleSignInError('The sign-in answer did not match this request. Sign in again.', 'failed')
    }
    if (deps.requireMfa && claims.acr !== ACR_MFA)
      throw new ConsoleSignInError('The admin console needs a sign-in with a second factor.', 'failed')
    const token = res.body.access_token
    const scopes = (res.body.scope ?? '').split(' ')
    const can = scopes.includes('admin')
      ? await capabilities(deps.api, token, ip)
      : { users: false, userCare: false, clients: false, roles: false }
    if (!Object.values(can).some(Boolean))
      throw new ConsoleSignInError(
        'Your account holds no administration role. Ask an administrator to grant you one.',
        'not_admin',
      )
    // The banner names the operator: the ID token carries no email with response_type=code
    // (OIDC Core §5.4: scope claims go to userinfo), so the API is asked when it may be.
    const me = can.users
      ? await deps.api.call<{ email?: string }>('GET', `/admin/v1/users/${encodeURIComponent(claims.sub)}`, {
          token,
          ip,
        })
      : undefined
    const email =
      me?.status === 200 && me.body.email
        ? me.body.email
        : typeof claims.email === 'string'
          ? claims.email
          : `user ${claims.sub}`
    return deps.sessions.create({
      userId: claims.sub,
      email,
      token,
      can,
      expiresAt: Date.now() + (res.body.expires_in ?? 300) * 1000,
    })
  }

  /** One admin API call as the signed-in operator. */
  function call<T = unknown>(
    s: ConsoleSession,
    ip: string,
    method: string,
    path: string,
    o: { json?: unknown; ifMatch?: string } = {},
  ): Promise<ApiAnswer<T>> {
    return deps.api.call<T>(method, path, { ...o, token: s.token, ip })
  }

  return { startLogin, finishLogin, call, sessions: deps.sessions }
}
export type ConsoleService = ReturnType<typeof consoleService>
