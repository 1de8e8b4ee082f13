import type Provider from 'oidc-provider'
import type { KoaContextWithOIDC } from 'oidc-provider'
import { errorPage } from './interactions/views.ts'

/**
 * RFC 9101 (JAR) request objects. By value (`request`), oidc-provider does the work: the object
 * must be signed with one of the asymmetric algorithms of `enabledJWA.requestObjectSigningAlgValues`
 * by a key of the client's `jwks` / `jwks_uri` ('none' and HS* are not accepted, so an unsigned
 * object is refused; client secrets are hashes and never keys). A client with
 * `require_signed_request_object: true` must send every authorization request as one.
 *
 * By reference (`request_uri`), oidc-provider 9 only knows PAR's `urn:` URIs, so this middleware
 * fetches an https `request_uri` the client registered in `request_uris` (OIDC Core §6.2,
 * RFC 9101 §5.2: the AS fetches it) and hands the object on as `request`. Only registered URIs
 * are fetched — otherwise anyone could make us fetch any URL (RFC 9101 §10.4.1) — through
 * oidc-provider's own SSRF-guarded fetch (special-use addresses refused unless
 * OUTBOUND_PRIVATE_ADDRESSES), with its timeout and a size limit.
 */

/** A request object larger than this is refused (oidc-provider's own limit for a form body). */
const MAX_REQUEST_OBJECT = 56 * 1024

/** The `request_uris` client metadata: absolute https URIs (http only on a loopback host). */
export function requestUrisProblem(value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value) || value.length > 20) return 'request_uris must be an array of at most 20 URIs'
  for (const v of value) {
    if (typeof v !== 'string' || v.length > 2000 || !URL.canParse(v))
      return 'request_uris must be an array of absolute URIs'
    const u = new URL(v)
    const loopback = u.hostname === 'localhost' || u.hostname === '127.0.0.1' || u.hostname === '[::1]'
    if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback))
      return `request_uris must use https (http only on a loopback host): ${v}`
  }
  return undefined
}

/** RFC 9101 §5.2: matched without the fragment, which the client may use to break caches. */
const withoutFragment = (uri: string) => uri.split('#', 1)[0]

type Fetcher = (provider: Provider, url: string, options: RequestInit) => Promise<Response>
let fetcher: Promise<Fetcher> | undefined
/** oidc-provider's outgoing fetch (SSRF guard, 2.5 s timeout, the configured `fetch`). */
async function providerFetch(): Promise<Fetcher> {
  // not in oidc-provider's typings: the same helper it fetches jwks_uri and sector URIs with
  const spec: string = 'oidc-provider/lib/helpers/fetch_request.js'
  fetcher ??= import(spec).then((m: { default: Fetcher }) => m.default)
  return fetcher
}

class RequestUriError extends Error {}

async function fetchRequestObject(provider: Provider, uri: string): Promise<string> {
  let res: Response
  try {
    res = await (
      await providerFetch()
    )(provider, uri, {
      method: 'GET',
      redirect: 'manual',
      headers: { accept: 'application/oauth-authz-req+jwt, application/jwt' },
    })
  } catch {
    throw new RequestUriError('the request_uri could not be fetched')
  }
  if (res.status !== 200) throw new RequestUriError(`fetching the request_uri returned HTTP ${res.status}`)
  const body = (await res.text()).trim()
  if (body.length > MAX_REQUEST_OBJECT) throw new RequestUriError('the request object at request_uri is too large')
  // a JWS (3 parts) or JWE (5 parts) in compact serialization
  if (!/^[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*){2}((\.[A-Za-z0-9_-]*){2})?$/.test(body))
    throw new RequestUriError('the request_uri did not return a request object (a compact JWT)')
  return body
}

export function installRequestUris(provider: Provider) {
  let path: string | undefined
  provider.use(async (ctx, next) => {
    path ??= provider.pathFor('authorization')
    const uri = ctx.method === 'GET' && ctx.path === path ? ctx.query.request_uri : undefined
    if (typeof uri !== 'string' || !/^https?:\/\//i.test(uri) || ctx.query.request !== undefined) return next()
    const clientId = ctx.query.client_id
    const client =
      typeof clientId === 'string' ? await provider.Client.find(clientId).catch(() => undefined) : undefined
    // unknown client: oidc-provider answers it (invalid_client) once request_uri is gone
    const registered = (client?.metadata().request_uris as string[] | undefined) ?? []
    try {
      if (client && !registered.some((r) => withoutFragment(r) === withoutFragment(uri))) {
        throw new RequestUriError("request_uri is not one of the client's registered request_uris")
      }
      const query = new URLSearchParams(ctx.querystring)
      query.delete('request_uri')
      if (client) query.set('request', await fetchRequestObject(provider, uri))
      ctx.querystring = query.toString()
    } catch (e) {
      if (!(e instanceof RequestUriError)) throw e
      // The redirect_uri is not verified yet (it may be inside the object): an error page, as
      // oidc-provider renders for an unverifiable redirect (RFC 6749 §4.1.2.1).
      ctx.status = 400
      ctx.type = 'html'
      ctx.body = errorPage('invalid_request_uri', e.message)
      return undefined
    }
    return next()
  })
  // oidc-provider's discovery always says false; by reference works here (registered URIs only).
  provider.use(async (ctx, next) => {
    await next()
    const c = ctx as KoaContextWithOIDC
    if (c.oidc?.route !== 'discovery' || ctx.status !== 200 || !ctx.body || typeof ctx.body !== 'object') return
    Object.assign(ctx.body, { request_uri_parameter_supported: true, require_request_uri_registration: true })
  })
}
