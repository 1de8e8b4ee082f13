import ipaddr from 'ipaddr.js'

/**
 * IP addresses and CIDR lists (IPv4 and IPv6, via ipaddr.js): pure parsing and matching for
 * anything that limits by address — API key allowlists, per-client and management API
 * allowlists, trusted proxies, rate limits. No HTTP here; src/http/client-ip.ts finds a
 * request's client address with it.
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
