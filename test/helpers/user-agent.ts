/**
 * A minimal browser for HTTP-level flows: a cookie jar and manual redirects, so tests see
 * every hop (status, Location) the way a user agent would. Real pages are tested with
 * Chromium in the browser suites; this drives the same forms without one.
 */
export class UserAgent {
  private readonly jar = new Map<string, string>()

  constructor(private readonly base: string) {}

  cookieNames(): string[] {
    return [...this.jar.keys()]
  }

  cookie(name: string): string | undefined {
    return this.jar.get(name)
  }

  /** Sets a cookie as if the server had (a browser that kept one cookie, e.g. after signing out). */
  setCookie(name: string, value: string) {
    this.jar.set(name, value)
  }

  private store(res: Response) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';')
      const eq = pair!.indexOf('=')
      const name = pair!.slice(0, eq).trim()
      const value = pair!.slice(eq + 1).trim()
      const expired = attrs.some((a) => {
        const [k, v] = a.trim().split('=')
        if (k!.toLowerCase() === 'max-age') return Number(v) <= 0
        if (k!.toLowerCase() === 'expires') return new Date(v!).getTime() <= Date.now()
        return false
      })
      if (expired || value === '') this.jar.delete(name)
      else this.jar.set(name, value)
    }
  }

  /** One request, no redirect following. */
  async request(
    url: string | URL,
    init: { method?: string; form?: Record<string, string>; json?: unknown; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { ...init.headers }
    if (this.jar.size) headers.cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ')
    let body: string | undefined
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      body = new URLSearchParams(init.form).toString()
    } else if (init.json !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(init.json)
    }
    const res = await fetch(new URL(url, this.base), {
      method: init.method ?? (body ? 'POST' : 'GET'),
      headers,
      body,
      redirect: 'manual',
    })
    this.store(res)
    return res
  }

  /**
   * Follows redirects until a page (non-3xx) or a URL outside the server (the client's
   * redirect_uri) is reached; returns the final response or that URL.
   */
  async follow(start: Response, stopAt: (url: URL) => boolean): Promise<{ res?: Response; url: URL }> {
    let res = start
    let url = new URL(res.url || this.base)
    for (let hops = 0; hops < 20; hops++) {
      const location = res.headers.get('location')
      if (res.status < 300 || res.status >= 400 || !location) return { res, url }
      url = new URL(location, url)
      if (stopAt(url)) return { url }
      res = await this.request(url)
    }
    throw new Error('too many redirects')
  }
}

/** The value of a named hidden/input field in an HTML form. */
export function field(html: string, name: string): string {
  const m = new RegExp(`name="${name}"[^>]*value="([^"]*)"|value="([^"]*)"[^>]*name="${name}"`).exec(html)
  if (!m) throw new Error(`no field ${name} in page:\n${html.slice(0, 2000)}`)
  return (m[1] ?? m[2])!
    .replace(/&amp;/g, '&')
    .replace(/&#x2F;/g, '/')
    .replace(/&quot;/g, '"')
}

/** The action of the first form on the page (or the one whose action matches). */
export function formAction(html: string, contains = ''): string {
  for (const m of html.matchAll(/<form[^>]*action="([^"]*)"/g)) {
    if (m[1]!.includes(contains)) return m[1]!.replace(/&amp;/g, '&')
  }
  throw new Error(`no form with action containing "${contains}" in page:\n${html.slice(0, 2000)}`)
}

/**
 * The browser part of an authorization request on our own pages: submits the login form
 * (email + password) and the consent form until the server redirects away from itself.
 * Returns the URL it was sent to (the client's redirect_uri with code or error), or the
 * login page's HTML when the credentials were refused.
 */
export async function signIn(
  ua: UserAgent,
  authUrl: URL,
  creds: { email: string; password: string },
): Promise<{ callback?: URL; failed?: string }> {
  const issuer = new URL(authUrl).origin
  const away = (u: URL) => u.origin !== issuer
  let hop = await ua.follow(await ua.request(authUrl), away)
  for (let step = 0; step < 6 && hop.res; step++) {
    const html = await hop.res.text()
    if (hop.res.status !== 200) throw new Error(`unexpected ${hop.res.status} during sign-in: ${html.slice(0, 500)}`)
    if (hop.res.headers.get('cache-control') !== 'no-store') throw new Error('sign-in pages must not be cached')
    const csrf = field(html, 'csrf')
    let posted: Response
    if (html.includes('name="password"')) {
      posted = await ua.request(formAction(html, '/login'), {
        form: { csrf, email: creds.email, password: creds.password },
      })
      if (posted.status === 401) return { failed: await posted.text() }
    } else {
      posted = await ua.request(formAction(html, '/confirm'), { form: { csrf } })
    }
    hop = await ua.follow(posted, away)
  }
  if (hop.res) throw new Error(`sign-in did not finish: ${hop.res.status} ${await hop.res.text()}`)
  return { callback: hop.url }
}
