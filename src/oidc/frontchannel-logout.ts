import type Provider from 'oidc-provider'
import { errors, type KoaContextWithOIDC } from 'oidc-provider'
import { html } from '../views/html.ts'
import { page } from '../views/layout.ts'
import { t } from '../views/i18n.ts'

/**
 * OpenID Connect Front-Channel Logout 1.0 (oidc-provider 9 dropped its own support): when a user
 * signs out at the end-session endpoint, the page after the confirmation renders one hidden
 * iframe per client that took part in the session and registered a `frontchannel_logout_uri`
 * (§3), with `iss` and `sid` when the client registered `frontchannel_logout_session_required`
 * (§2), then continues to the post_logout_redirect_uri (or our "signed out" page).
 *
 * Only a browser can carry this: sessions ended without one (admin revocation, a disabled user,
 * a password reset) reach clients through Back-Channel Logout only (backchannel-logout.ts).
 */

/** The client metadata (§2), accepted through extraClientMetadata. */
export const FRONTCHANNEL_METADATA = ['frontchannel_logout_uri', 'frontchannel_logout_session_required']

/** Discovery (§3): both, since the iframes carry iss and sid where a client asks for them. */
export const frontchannelDiscovery = {
  frontchannel_logout_supported: true,
  frontchannel_logout_session_supported: true,
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]'])

/**
 * §2: an absolute URI that the RP serves in an iframe; https (http only on a loopback host, as
 * for redirect URIs in development); no fragment; and its scheme, host and port those of one of
 * the client's registered redirect_uris (§2: "The domain, port, and scheme of this URL MUST be
 * the same as that of a registered Redirection URI value").
 */
export function frontchannelLogoutUriProblem(value: unknown, redirectUris: unknown): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.length > 2000 || !URL.canParse(value))
    return 'frontchannel_logout_uri must be an absolute URI'
  const u = new URL(value)
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && LOOPBACK.has(u.hostname)))
    return 'frontchannel_logout_uri must use https (http only on a loopback host)'
  if (value.includes('#')) return 'frontchannel_logout_uri must not have a fragment'
  if (u.username || u.password) return 'frontchannel_logout_uri must not carry credentials'
  const origins = new Set(
    (Array.isArray(redirectUris) ? redirectUris : [])
      .filter((r): r is string => typeof r === 'string' && URL.canParse(r))
      .map((r) => new URL(r).origin),
  )
  if (!origins.has(u.origin))
    return 'frontchannel_logout_uri must have the scheme, host and port of one of the redirect_uris'
  return undefined
}

/** extraClientMetadata.validator's part for the two properties. */
export function validateFrontchannelMetadata(key: string, value: unknown, metadata: Record<string, unknown>) {
  if (key === 'frontchannel_logout_uri') {
    const problem = frontchannelLogoutUriProblem(value, metadata.redirect_uris)
    if (problem) throw new errors.InvalidClientMetadata(problem)
  }
  if (key === 'frontchannel_logout_session_required' && value !== undefined && typeof value !== 'boolean')
    throw new errors.InvalidClientMetadata('frontchannel_logout_session_required must be true or false')
}

export interface FrontchannelNotice {
  accountId?: string
  clientIds: string[]
}

interface Frame {
  clientId: string
  src: string
}

/** The page: hidden iframes, then on to `next` once they loaded (a script from /assets; no-JS: a link). */
function notifyingPage(frames: Frame[], next: string) {
  return page(
    t('logout.doneTitle'),
    html`<h1>${t('logout.doneHeading')}</h1>
<p>${t('logout.notifying')}</p>
${frames.map((f) => html`<iframe class="frontchannel-logout" src="${f.src}" data-client="${f.clientId}" hidden title="${f.clientId}"></iframe>`)}
<p><a href="${next}" id="frontchannel-continue">${t('logout.continue')}</a></p>`,
    { scripts: ['/assets/frontchannel-logout.js'] },
  )
}

interface SessionBefore {
  accountId?: string
  state?: { clientId?: string }
  authorizations?: Record<string, { sid?: string }>
}

/**
 * Wraps the end-session confirmation (POST /session/end/confirm): the session is read before
 * oidc-provider ends it (it forgets which clients took part), and a 303 that ended it becomes
 * the iframe page. Which clients: all of the session's when the user signed out everywhere
 * (`logout=yes`), else only the client that asked (as oidc-provider does for back-channel).
 */
export function installFrontchannelLogout(
  provider: Provider,
  onNotified?: (ctx: KoaContextWithOIDC, n: FrontchannelNotice) => void,
) {
  includeSidForFrontchannel(provider)
  let confirmPath: string | undefined
  provider.use(async (ctx, next) => {
    confirmPath ??= provider.pathFor('end_session_confirm')
    if (ctx.method !== 'POST' || ctx.path !== confirmPath) return next()
    const before = await sessionOf(provider, ctx.cookies.get(provider.cookieName('session'), { signed: true }))
    await next()
    const c = ctx as KoaContextWithOIDC
    const location = ctx.response.get('location')
    if (!before || c.oidc?.route !== 'end_session_confirm' || ctx.status !== 303 || !location) return
    const everywhere = Boolean(c.oidc.params?.logout)
    const ids = Object.keys(before.authorizations ?? {}).filter((id) => everywhere || id === before.state?.clientId)
    const frames: Frame[] = []
    for (const clientId of ids) {
      const client = await provider.Client.find(clientId).catch(() => undefined)
      const uri = client?.metadata().frontchannel_logout_uri
      if (typeof uri !== 'string') continue
      const src = new URL(uri)
      // §2: iss and sid let the RP check the notice is for its current session with us
      if (client!.metadata().frontchannel_logout_session_required === true) {
        const sid = before.authorizations?.[clientId]?.sid
        src.searchParams.set('iss', provider.issuer)
        if (sid) src.searchParams.set('sid', sid)
      }
      frames.push({ clientId, src: src.href })
    }
    if (!frames.length) return
    onNotified?.(c, { accountId: before.accountId, clientIds: frames.map((f) => f.clientId) })
    ctx.remove('location')
    ctx.status = 200
    ctx.type = 'html'
    ctx.body = notifyingPage(frames, location)
    // this page only may frame the clients' origins (the CSP's default-src 'self' forbids it elsewhere)
    const origins = [...new Set(frames.map((f) => new URL(f.src).origin))]
    const csp = ctx.response.get('content-security-policy')
    if (csp) ctx.set('Content-Security-Policy', `${csp}; frame-src ${origins.join(' ')}`)
  })
}

async function sessionOf(provider: Provider, id: string | undefined): Promise<SessionBefore | undefined> {
  if (!id) return undefined
  try {
    return ((await provider.Session.find(id)) as SessionBefore | undefined) ?? undefined
  } catch {
    return undefined // no session: oidc-provider answers the request as it would
  }
}

/**
 * §3: a client with `frontchannel_logout_session_required` needs `sid` in its ID tokens to match
 * the iframe's. oidc-provider puts it there for back-channel clients that require it; the same
 * switch (Client#includeSid) is widened to front-channel ones.
 */
function includeSidForFrontchannel(provider: Provider) {
  const proto = provider.Client.prototype as unknown as {
    includeSid(this: { metadata(): Record<string, unknown> }): boolean
  }
  const original = proto.includeSid
  proto.includeSid = function () {
    const m = this.metadata()
    return (
      Boolean(original.call(this)) ||
      (typeof m.frontchannel_logout_uri === 'string' && m.frontchannel_logout_session_required === true)
    )
  }
}
