/** AUDIT_SYSLOG_URL's syntax; the transport that uses it lives in audit/syslog.ts. */
export interface SyslogEndpoint {
  protocol: 'udp' | 'tcp' | 'tls'
  host: string
  port: number
}

const DEFAULT_PORTS = { udp: 514, tcp: 514, tls: 6514 } as const

/** udp://host[:port] | tcp://host[:port] | tls://host[:port]; an error message otherwise. */
export function parseSyslogUrl(value: string): SyslogEndpoint | string {
  let u: URL
  try {
    u = new URL(value)
  } catch {
    return 'must be a URL like udp://host:514, tcp://host:514 or tls://host:6514'
  }
  const protocol = u.protocol.slice(0, -1)
  if (protocol !== 'udp' && protocol !== 'tcp' && protocol !== 'tls') return 'must start with udp://, tcp:// or tls://'
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1')
  if (!host) return 'must name a host, e.g. udp://127.0.0.1:514'
  if (u.username || u.password || (u.pathname && u.pathname !== '/') || u.search || u.hash)
    return 'must be only scheme://host[:port] (no credentials, path or query)'
  const port = u.port ? Number(u.port) : DEFAULT_PORTS[protocol]
  if (!Number.isInteger(port) || port < 1 || port > 65535) return 'must have a port between 1 and 65535'
  return { protocol, host, port }
}
