import * as oidc from 'openid-client'
import { generate } from 'otplib'
import { field, formAction, UserAgent } from './user-agent.ts'

/** Helpers for sign-in flows with a second factor, at the HTTP level (no browser). */
export const CALLBACK = 'https://app.example.com/cb'

export async function totpNow(secret: string, offsetSteps = 0) {
  return generate({ secret, epoch: Math.floor(Date.now() / 1000) + offsetSteps * 30 })
}

/** Starts an authorization request and returns the first page (the login form). */
export async function startAuth(ua: UserAgent, config: oidc.Configuration, extra: Record<string, string> = {}) {
  const verifier = oidc.randomPKCECodeVerifier()
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: CALLBACK,
    scope: 'openid email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    ...extra,
  })
  const hop = await ua.follow(await ua.request(url), (u) => u.origin !== new URL(url).origin)
  return {
    verifier,
    url,
    res: hop.res,
    callback: hop.res ? undefined : hop.url,
    html: hop.res ? await hop.res.text() : '',
  }
}

/** Posts a form found on `html` (by action fragment) and follows redirects while on the issuer. */
export async function submit(ua: UserAgent, html: string, action: string, fields: Record<string, string>) {
  const posted = await ua.request(formAction(html, action), { form: { csrf: field(html, 'csrf'), ...fields } })
  return posted
}

/** Finishes consent pages until the client's redirect_uri; returns the callback URL. */
export async function completeToCallback(ua: UserAgent, issuer: string, res: Response): Promise<URL> {
  let hop = await ua.follow(res, (u) => u.origin !== issuer)
  for (let i = 0; i < 4 && hop.res; i++) {
    const html = await hop.res.text()
    if (!html.includes('/confirm')) throw new Error(`expected consent, got ${hop.res.status}: ${html.slice(0, 400)}`)
    hop = await ua.follow(
      await ua.request(formAction(html, '/confirm'), { form: { csrf: field(html, 'csrf') } }),
      (u) => u.origin !== issuer,
    )
  }
  if (hop.res) throw new Error('did not reach the callback')
  return hop.url
}

export async function idTokenClaims(config: oidc.Configuration, callback: URL, verifier: string) {
  const tokens = await oidc.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier,
    idTokenExpected: true,
  })
  return tokens.claims()!
}
