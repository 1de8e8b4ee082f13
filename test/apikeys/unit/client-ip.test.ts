import { describe, expect, it } from 'vitest'
import { clientIpResolver, ipInCidrs, parseCidr } from '../../../src/http/client-ip.ts'

const ctx = (remote: string, xff?: string) => ({
  req: { socket: { remoteAddress: remote } },
  get: (h: string) => (h === 'x-forwarded-for' ? (xff ?? '') : ''),
})

describe('client IP', () => {
  it('is the socket peer without trusted proxies, whatever X-Forwarded-For says', () => {
    const ip = clientIpResolver([])
    expect(ip(ctx('203.0.113.9', '10.0.0.1'))).toBe('203.0.113.9')
    expect(ip(ctx('::ffff:203.0.113.9'))).toBe('203.0.113.9')
  })

  it('walks X-Forwarded-For from the right through trusted proxies only', () => {
    const ip = clientIpResolver(['10.0.0.0/8', 'fd00::/8'])
    expect(ip(ctx('10.0.0.2', '198.51.100.4'))).toBe('198.51.100.4')
    expect(ip(ctx('10.0.0.2', '1.1.1.1, 198.51.100.4, 10.0.0.7'))).toBe('198.51.100.4')
    expect(ip(ctx('fd00::1', '2001:db8::9'))).toBe('2001:db8::9')
    expect(ip(ctx('203.0.113.9', '198.51.100.4'))).toBe('203.0.113.9') // peer is not our proxy
    expect(ip(ctx('10.0.0.2', 'garbage, 198.51.100.4'))).toBe('198.51.100.4')
    expect(ip(ctx('10.0.0.2', '198.51.100.4, garbage'))).toBe('10.0.0.2')
    expect(ip(ctx('10.0.0.2'))).toBe('10.0.0.2')
  })

  it('matches IPv4/IPv6 CIDRs, single addresses and IPv4-mapped IPv6', () => {
    const list = ['10.0.0.0/8', '2001:db8::/32', '192.0.2.5', '::ffff:172.16.0.0/108'].map(parseCidr)
    expect(ipInCidrs('10.200.1.1', list)).toBe(true)
    expect(ipInCidrs('::ffff:10.1.1.1', list)).toBe(true)
    expect(ipInCidrs('2001:db8:1::1', list)).toBe(true)
    expect(ipInCidrs('192.0.2.5', list)).toBe(true)
    expect(ipInCidrs('192.0.2.6', list)).toBe(false)
    expect(ipInCidrs('172.16.3.4', list)).toBe(true)
    expect(ipInCidrs('11.0.0.1', list)).toBe(false)
    expect(ipInCidrs('not-an-ip', list)).toBe(false)
    for (const bad of ['10.0.0.0/33', 'example.com', '1.2.3', '::/129']) expect(() => parseCidr(bad)).toThrow()
  })
})
