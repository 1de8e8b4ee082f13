import ipaddr from 'ipaddr.js'
import type { Context } from 'koa'

/**
 * Client IP addresses and CIDR lists (IPv4 and IPv6, via ipaddr.js), for anything that limits
 * by address: API key allowlists, per-client and management API allowlists, rate limits.
 */
export type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number]

/** Parses one address ("10.1.2.3", "::1", an IPv4-mapped IPv6 address) to canonical form. */
export function parseIp(value: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  const v = value.trim().replace(/^\[(.*)\]$/, '$1')
  // Only dotted-quad IPv4: ipaddr.js also takes inet_aton forms ("10.1", "0x0a000001"), which
  // would turn a typo in an allowlist into a different address.
  if (!ipaddr.IPv4.isValidFourPartDecimal(v) && !ipaddr.IPv6.isValid(v)) return undefined
  // ::ffff:10.0.0.1 is how a dual-stack socket reports an IPv4 peer: treat it as 10.0.0.1.
  return ipaddr.process(v)
}

/** "10.0.0.0/8", "2001:db8::/32", or a single address (a /32 or /128). Throws on bad input. */
export function parseCidr(value: string): Cidr {
  const v = value.trim()
  if (!v.includes('/')) {
    const ip = parseIp(v)
    if (!ip) throw new Error(`${JSON.stringify(value)} is not an IP address or CIDR`)
    return [ip, ip.kind() === 'ipv4' ? 32 : 128]
  }
  try {
    if (!parseIp(v.slice(0, v.indexOf('/')))) throw new Error('bad address')
    const [addr, bits] = ipaddr.parseCIDR(v)
    // An IPv4-mapped IPv6 range (::ffff:10.0.0.0/104) matches the IPv4 peers it describes.
    if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
      return [(addr as ipaddr.IPv6).toIPv4Address(), bits - 96]
    }
    return [addr, bits]
  } catch {
    throw new Error(`${JSON.stringify(value)} is not an IP address or CIDR`)
  }
}

/** Canonical text of a CIDR ("10.0.0.0/8"); the stored form of allowlists. */
export const formatCidr = ([addr, bits]: Cidr) => `${addr.toString()}/${bits}`

export function ipInCidrs(ip: string | ipaddr.IPv4 | ipaddr.IPv6 | undefined, cidrs: readonly Cidr[]): boolean {
  const addr = typeof ip === 'string' ? parseIp(ip) : ip
  if (!addr) return false
  return cidrs.some(([range, bits]) => range.kind() === addr.kind() && addr.match(range, bits))
}

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
