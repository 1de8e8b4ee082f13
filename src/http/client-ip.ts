import type { Context } from 'koa'
import { ipInCidrs, parseCidr, parseIp } from '../net/ip.ts'

// The pure address functions live in src/net/ip.ts; re-exported for the toolkit's users.
export { formatCidr, ipInCidrs, parseCidr, parseIp, type Cidr } from '../net/ip.ts'

/**
 * Returns the client IP for a request. The socket's peer is the client, unless that peer is one
 * of our trusted proxies (TRUSTED_PROXIES): then X-Forwarded-For is read from the right, each
 * hop believed only while the address that added it is itself a trusted proxy. The first
 * untrusted address is the client. Anything a client put at the left of the header is never
 * believed, so a spoofed X-Forwarded-For cannot pick the client's IP.
 */
export function clientIpResolver(trustedProxies: readonly string[]) {
  const trusted = trustedProxies.map(parseCidr)
  return function clientIp(ctx: Pick<Context, 'get'> & { req: { socket: { remoteAddress?: string } } }): string {
    const peer = parseIp(ctx.req.socket.remoteAddress ?? '')
    if (!peer) return ctx.req.socket.remoteAddress ?? ''
    let client = peer
    if (!trusted.length || !ipInCidrs(peer, trusted)) return client.toString()
    const hops = ctx
      .get('x-forwarded-for')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = parseIp(hops[i]!)
      if (!hop) break // a malformed entry: stop at the last address we could trust
      client = hop
      if (!ipInCidrs(hop, trusted)) break
    }
    return client.toString()
  }
}
export type ClientIp = ReturnType<typeof clientIpResolver>
