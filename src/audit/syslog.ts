import dgram from 'node:dgram'
import dns from 'node:dns/promises'
import net from 'node:net'
import os from 'node:os'
import tls from 'node:tls'
import type { Logger } from 'pino'
import type { AuditQueries, AuditRow, OutboxTarget } from './queries.ts'
import { cefLine, jsonLine } from './export.ts'
import { outboxDelivery, PartialDelivery, type DeliveryOptions, type Send } from './outbox.ts'
import { parseSyslogUrl, type SyslogEndpoint } from '../config/syslog-url.ts'

// The URL is parsed where the configuration is read (config/ imports no capability).
export { parseSyslogUrl, type SyslogEndpoint }

/**
 * The syslog target (AUDIT_SYSLOG_URL): every audit record as an RFC 5424 message, through the
 * same outbox as the webhook (queries.appendBatch writes the finished message in the record's
 * transaction; outbox.ts retries with backoff and deletes it once the target accepted it).
 *
 *   <PRI>1 TIMESTAMP HOSTNAME portcullis PROCID MSGID - MSG
 *
 * facility authpriv (10); severity warning (4) for alerts, notice (5) for failures, info (6)
 * otherwise; MSGID the action; MSG the CEF line (export.ts) or the JSON record, both single
 * lines. HOSTNAME and PROCID are those of the process that recorded the event.
 *
 * Transports: udp:// one datagram per message (RFC 5426; accepted = handed to the kernel);
 * tcp:// and tls:// (RFC 5425) one persistent connection with octet-counting framing
 * (RFC 6587 3.4.1, `LEN SP MSG`; accepted = written to the connection). Syslog has no
 * application-level acknowledgement, so what "accepted" means is what the transport can tell:
 * a refused or broken connection keeps the records in the outbox, and a connection the receiver
 * closed is noticed and reopened before the next batch.
 */
export type SyslogFormat = 'cef' | 'json'
export const FACILITY_AUTHPRIV = 10
const APP_NAME = 'portcullis'

/** RFC 5424 header fields: printable US-ASCII only, bounded length, `-` when empty. */
const field = (v: string, max: number) => v.replace(/[^\x21-\x7e]/g, '_').slice(0, max) || '-'

export function syslogSeverity(r: Pick<AuditRow, 'action' | 'outcome'>): number {
  if (r.action.startsWith('alert.')) return 4 // warning
  if (r.outcome === 'failure') return 5 // notice
  return 6 // informational
}

export function syslogMessage(
  r: AuditRow,
  format: SyslogFormat = 'cef',
  origin: { hostname?: string; procid?: string } = {},
): string {
  const pri = FACILITY_AUTHPRIV * 8 + syslogSeverity(r)
  const msg = format === 'json' ? jsonLine(r) : cefLine(r)
  const hostname = field(origin.hostname ?? os.hostname(), 255)
  const procid = field(origin.procid ?? String(process.pid), 128)
  return `<${pri}>1 ${r.time.toISOString()} ${hostname} ${APP_NAME} ${procid} ${field(r.action, 32)} - ${msg}`
}

/** RFC 6587 octet counting: the message's length in bytes, a space, the message. */
export const octetFrame = (msg: string) => `${Buffer.byteLength(msg, 'utf8')} ${msg}`

export const syslogOutbox = (format: SyslogFormat = 'cef'): OutboxTarget => ({
  target: 'syslog',
  payload: (r) => syslogMessage(r, format),
})

/** Largest datagram we send; longer messages are cut (UDP cannot carry more than ~64 KiB). */
const MAX_DATAGRAM = 65_000

function truncateBytes(s: string, max: number): Buffer {
  const b = Buffer.from(s, 'utf8')
  if (b.length <= max) return b
  let end = max
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end-- // do not split a UTF-8 sequence
  return b.subarray(0, end)
}

export interface SyslogTransport {
  send: Send
  close(): Promise<void>
}

export interface TransportOptions {
  timeoutMs?: number
  /** extra TLS options (a private CA in tests); the system trust store and NODE_EXTRA_CA_CERTS otherwise */
  tls?: tls.ConnectionOptions
}

export function syslogTransport(ep: SyslogEndpoint, o: TransportOptions = {}): SyslogTransport {
  return ep.protocol === 'udp' ? udpTransport(ep) : streamTransport(ep, o)
}

function udpTransport(ep: SyslogEndpoint): SyslogTransport {
  let current: { socket: dgram.Socket; address: string; resolvedAt: number } | undefined

  const drop = (s: dgram.Socket) => {
    if (current?.socket === s) current = undefined
    try {
      s.close()
    } catch {
      // already closed
    }
  }

  async function open() {
    // Re-resolve a host name now and then, so a moved receiver is followed.
    if (current && Date.now() - current.resolvedAt < 300_000) return current
    if (current) drop(current.socket)
    const { address, family } = net.isIP(ep.host)
      ? { address: ep.host, family: net.isIP(ep.host) }
      : await dns.lookup(ep.host)
    const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4')
    socket.on('error', () => drop(socket))
    socket.unref()
    current = { socket, address, resolvedAt: Date.now() }
    return current
  }

  return {
    async send(payloads) {
      const { socket, address } = await open()
      for (let i = 0; i < payloads.length; i++) {
        try {
          await new Promise<void>((resolve, reject) =>
            socket.send(truncateBytes(payloads[i]!, MAX_DATAGRAM), ep.port, address, (err) =>
              err ? reject(err) : resolve(),
            ),
          )
        } catch (err) {
          drop(socket)
          throw new PartialDelivery(`syslog udp send failed: ${(err as Error).message}`, i)
        }
      }
    },
    async close() {
      if (current) drop(current.socket)
    },
  }
}

function streamTransport(ep: SyslogEndpoint, o: TransportOptions): SyslogTransport {
  const timeoutMs = o.timeoutMs ?? 10_000
  let socket: net.Socket | undefined

  const drop = (s: net.Socket) => {
    if (socket === s) socket = undefined
    s.destroy()
  }

  function connect(): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const s =
        ep.protocol === 'tls'
          ? tls.connect({ host: ep.host, port: ep.port, servername: net.isIP(ep.host) ? undefined : ep.host, ...o.tls })
          : net.connect({ host: ep.host, port: ep.port })
      const timer = setTimeout(() => s.destroy(new Error(`connect to ${ep.host}:${ep.port} timed out`)), timeoutMs)
      const failed = (err: Error) => {
        clearTimeout(timer)
        s.destroy()
        reject(new Error(`syslog ${ep.protocol} connect failed: ${err.message}`))
      }
      s.once('error', failed)
      s.once(ep.protocol === 'tls' ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer)
        s.off('error', failed)
        // The receiver closing (or resetting) the connection retires it; the next batch reconnects.
        s.on('error', () => drop(s))
        s.on('end', () => drop(s))
        s.on('close', () => drop(s))
        s.resume() // receivers send nothing; reading lets us see their FIN
        s.setKeepAlive(true, 60_000)
        s.unref()
        resolve(s)
      })
    })
  }

  return {
    async send(payloads) {
      socket ??= await connect()
      const s = socket
      const data = payloads.map(octetFrame).join('')
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          drop(s)
          reject(new Error('syslog write timed out'))
        }, timeoutMs)
        s.write(data, 'utf8', (err) => {
          clearTimeout(timer)
          if (!err) return resolve()
          drop(s)
          reject(new Error(`syslog ${ep.protocol} write failed: ${err.message}`))
        })
      })
    },
    async close() {
      const s = socket
      socket = undefined
      if (!s) return
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          s.destroy()
          resolve()
        }, 1000)
        s.end(() => {
          clearTimeout(t)
          resolve()
        })
      })
      s.destroy()
    },
  }
}

export interface SyslogOptions extends DeliveryOptions, TransportOptions {
  url: string
}

export function syslogDelivery(
  q: AuditQueries,
  logger: Logger,
  o: SyslogOptions,
  hooks: { delivered?: (n: number) => void; failed?: () => void } = {},
) {
  const ep = parseSyslogUrl(o.url)
  if (typeof ep === 'string') throw new Error(`AUDIT_SYSLOG_URL: ${ep}`)
  const transport = syslogTransport(ep, o)
  return outboxDelivery(q, logger, 'syslog', transport.send, { ...o, close: () => transport.close() }, hooks)
}
export type SyslogDelivery = ReturnType<typeof syslogDelivery>
