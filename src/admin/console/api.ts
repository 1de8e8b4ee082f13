import type { IncomingMessage, ServerResponse } from 'node:http'
import { inject } from 'light-my-request'

/** A node request handler: the whole app (buildApp(...).callback()). */
export type Dispatch = (req: IncomingMessage, res: ServerResponse) => void

export interface ApiAnswer<T = unknown> {
  status: number
  body: T
  headers: Record<string, string | string[] | undefined>
}

/** The 400 `invalid_request` of every JSON API: `details.fields` lists each bad field. */
export interface FieldError {
  in?: string
  field: string
  message: string
}

export function fieldErrorsOf(answer: ApiAnswer): Record<string, string> {
  const b = answer.body as { details?: { fields?: FieldError[] } } | undefined
  const out: Record<string, string> = {}
  for (const f of b?.details?.fields ?? []) out[f.field || '_'] ??= f.message
  return out
}
export const messageOf = (answer: ApiAnswer) => {
  const b = answer.body as { message?: string; error_description?: string; error?: string } | undefined
  return b?.message ?? b?.error_description ?? b?.error ?? `HTTP ${answer.status}`
}

/**
 * How the console talks to the admin API (issue 12 §3: "a client of the admin API and nothing
 * more"): real HTTP requests with the operator's bearer token, handed to the app's own request
 * handler in memory (light-my-request) rather than over a socket, so there is no loopback port to
 * configure and the request passes every layer an outside caller passes — management IP
 * allowlist (with the operator's address), rate limits, authentication, scope and PDP checks.
 */
export function consoleApi(opts: { dispatch: () => Dispatch; publicUrl: string }) {
  const host = new URL(opts.publicUrl).host
  async function call<T = unknown>(
    method: string,
    path: string,
    o: { token?: string; json?: unknown; form?: Record<string, string>; ifMatch?: string; ip: string },
  ): Promise<ApiAnswer<T>> {
    const headers: Record<string, string> = { host, accept: 'application/json' }
    if (o.token) headers.authorization = `Bearer ${o.token}`
    if (o.ifMatch) headers['if-match'] = o.ifMatch
    let payload: string | undefined
    if (o.json !== undefined) {
      headers['content-type'] = 'application/json'
      payload = JSON.stringify(o.json)
    } else if (o.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      payload = new URLSearchParams(o.form).toString()
    }
    const res = await inject(opts.dispatch(), {
      method: method as 'GET',
      url: path,
      headers,
      payload,
      remoteAddress: o.ip,
    })
    let body: unknown = res.body
    if (String(res.headers['content-type'] ?? '').includes('json')) {
      try {
        body = JSON.parse(res.body)
      } catch {
        body = undefined
      }
    }
    return { status: res.statusCode, body: body as T, headers: res.headers as ApiAnswer['headers'] }
  }
  return { call }
}
export type ConsoleApi = ReturnType<typeof consoleApi>
