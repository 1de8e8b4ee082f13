import * as oidc from 'openid-client'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import type { TestServer } from './server.ts'

/** Registers service clients (client credentials, with the given scope) through the import path. */
export async function registerServiceClients(
  server: TestServer,
  clients: { id: string; scope?: string; authz_stores?: string[] }[],
) {
  const { doc, problems } = await validateDocument(server.container, {
    clients: clients.map((c) => ({
      client_id: c.id,
      client_secret: `${c.id}-secret-0123456789abcdef`,
      grant_types: ['client_credentials'],
      response_types: [],
      ...(c.scope ? { scope: c.scope } : {}),
      ...(c.authz_stores ? { authz_stores: c.authz_stores } : {}),
    })),
  })
  if (problems.length) throw new Error(JSON.stringify(problems))
  await applyDocument(server.container, doc!)
}

/** A JWT access token for portcullis's own API, obtained with openid-client. */
export async function apiToken(server: TestServer, clientId: string, scope: string): Promise<string> {
  const config = await oidc.discovery(
    new URL(server.url),
    clientId,
    `${clientId}-secret-0123456789abcdef`,
    oidc.ClientSecretBasic(`${clientId}-secret-0123456789abcdef`),
    { execute: [oidc.allowInsecureRequests] },
  )
  return (await oidc.clientCredentialsGrant(config, { scope })).access_token
}

/** JSON call with a bearer token; returns status, headers and parsed body. */
export async function call(
  server: TestServer,
  method: string,
  path: string,
  token?: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await res.text()
  let json: unknown
  try {
    json = text ? JSON.parse(text) : undefined
  } catch {
    json = text
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: res.status, headers: res.headers, body: json as any }
}

/** Milliseconds until GET `path` with `token` answers `status` (polling every 20 ms, 3 s at most; else Infinity). */
/**
 * Polls until `path` answers `status`; returns the time it took, or Infinity after 15 s. The
 * bound is generous on purpose (a loaded machine): callers assert that the change arrives
 * without a restart, not how fast (bench/ measures that).
 */
export async function untilStatus(server: TestServer, path: string, token: string, status: number) {
  const started = Date.now()
  while (Date.now() - started < 15_000) {
    if ((await call(server, 'GET', path, token)).status === status) return Date.now() - started
    await new Promise((r) => setTimeout(r, 20))
  }
  return Infinity
}
