import { signRequest, keyIdOf, type SigningMaterial } from '../../src/apikeys/client.ts'
import type { TestServer } from './server.ts'
import { call } from './api-client.ts'

/** Issues a key through the API with an admin token; returns the response body (key once). */
export async function issue(server: TestServer, token: string, body: Record<string, unknown>) {
  const r = await call(server, 'POST', '/apikeys/v1/keys', token, body)
  if (r.status !== 201) throw new Error(`issue failed: ${r.status} ${JSON.stringify(r.body)}`)
  return r.body as {
    id: string
    key: string
    signing_secret?: string
    status: string
    level: string
    [k: string]: unknown
  }
}

/** A call with an API key, signed (RFC 9421) when `signing` is given; `tamper` edits headers. */
export async function signedCall(
  server: TestServer,
  method: string,
  path: string,
  key: string,
  opts: {
    body?: unknown
    signing?: SigningMaterial
    sign?: Partial<Parameters<typeof signRequest>[0]>
    tamper?: (h: Record<string, string>) => void
    sendBody?: string
    headers?: Record<string, string>
  } = {},
) {
  const text = opts.body === undefined ? undefined : JSON.stringify(opts.body)
  const headers: Record<string, string> = {
    ...(text !== undefined ? { 'content-type': 'application/json' } : {}),
    ...opts.headers,
  }
  if (opts.signing)
    Object.assign(
      headers,
      signRequest({
        method,
        url: `${server.url}${path}`,
        body: text,
        keyId: keyIdOf(key),
        signing: opts.signing,
        ...opts.sign,
      }),
    )
  opts.tamper?.(headers)
  return call(server, method, path, key, opts.sendBody ?? text, headers)
}
