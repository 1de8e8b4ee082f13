import { execFileSync } from 'node:child_process'
import dgram from 'node:dgram'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import { afterEach, describe, expect, it } from 'vitest'
import { freePort, startTestServer } from '../helpers/server.ts'
import { loadConfig } from '../../src/config/env.ts'
import { pgTestUrl } from '../../src/db/testing.ts'
import { ConfigError } from '../../src/errors.ts'
import { parseSyslogUrl, syslogTransport } from '../../src/audit/syslog.ts'
import { testAction } from '../helpers/audit-actions.ts'

/**
 * The syslog target of the audit outbox (AUDIT_SYSLOG_URL): RFC 5424 messages over a real UDP
 * socket (one datagram each) and a real TCP/TLS listener (RFC 6587 octet counting), retried
 * from the outbox while the receiver is down, across a restart, without loss or duplicates.
 */
const RFC5424 = /^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+) portcullis (\d+) (\S{1,32}) - (.*)$/s

interface Parsed {
  pri: number
  time: string
  hostname: string
  procid: string
  msgid: string
  msg: string
}
function parse(message: string): Parsed {
  const m = RFC5424.exec(message)
  if (!m) throw new Error(`not an RFC 5424 message: ${message}`)
  return { pri: Number(m[1]), time: m[2]!, hostname: m[3]!, procid: m[4]!, msgid: m[5]!, msg: m[6]! }
}

/** RFC 6587 octet-counting deframer: `LEN SP MSG` repeated, LEN counting bytes. */
function deframer(onMessage: (m: string) => void) {
  let buf = Buffer.alloc(0)
  return (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk])
    for (;;) {
      const sp = buf.indexOf(0x20)
      if (sp < 0) return
      const lenText = buf.subarray(0, sp).toString('latin1')
      if (!/^[1-9]\d*$/.test(lenText))
        throw new Error(`bad octet-counting frame: ${JSON.stringify(buf.subarray(0, 40).toString())}`)
      const len = Number(lenText)
      if (buf.length < sp + 1 + len) return
      onMessage(buf.subarray(sp + 1, sp + 1 + len).toString('utf8'))
      buf = buf.subarray(sp + 1 + len)
    }
  }
}

/** A syslog receiver over TCP (or TLS) that collects every framed message. */
function tcpReceiver(opts: { tls?: tls.TlsOptions } = {}) {
  const messages: string[] = []
  const sockets = new Set<net.Socket>()
  const errors: Error[] = []
  const onSocket = (s: net.Socket) => {
    sockets.add(s)
    const feed = deframer((m) => messages.push(m))
    s.on('data', (d: Buffer) => {
      try {
        feed(d)
      } catch (err) {
        errors.push(err as Error)
      }
    })
    s.on('error', () => undefined)
    s.on('close', () => sockets.delete(s))
  }
  const server = opts.tls ? tls.createServer(opts.tls, onSocket) : net.createServer(onSocket)
  return {
    messages,
    errors,
    sockets,
    listen: (port = 0) =>
      new Promise<number>((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port))
      }),
    /** Stops listening and drops every open connection (the receiver going away). */
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

async function until(cond: () => boolean | Promise<boolean>, ms: number, step?: () => Promise<unknown>) {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 50))
    await step?.()
  }
}

/** The outbox on SQLite always, and on PostgreSQL when TEST_DATABASE_URL is set. */
const databases: ('sqlite' | 'postgresql')[] = pgTestUrl() ? ['sqlite', 'postgresql'] : ['sqlite']

const cleanups: (() => Promise<unknown> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

describe('audit records to syslog over UDP', () => {
  it('sends one RFC 5424 datagram per record, facility authpriv, severity from the outcome, MSG the CEF line', async () => {
    const datagrams: string[] = []
    const udp = dgram.createSocket('udp4')
    udp.on('message', (m) => datagrams.push(m.toString('utf8')))
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r))
    cleanups.push(() => new Promise<void>((r) => udp.close(() => r())))
    const port = udp.address().port

    const server = await startTestServer({ env: { AUDIT_SYSLOG_URL: `udp://127.0.0.1:${port}` } })
    cleanups.push(() => server.close())
    const c = server.container
    await c.audit.record({
      action: testAction('test.syslog_success'),
      outcome: 'success',
      actor: 'ann',
      target: 'bob|x',
      ip: '192.0.2.7',
      details: { note: 'a=b\nc' },
    })
    await c.audit.record({ action: testAction('test.syslog_failure'), outcome: 'failure', actor: 'ann' })
    await c.audit.record({ action: testAction('alert.test_syslog'), outcome: 'info' })
    await c.audit.record({ action: testAction('test.syslog_info'), outcome: 'info' })
    await c.auditChain.syslog!.drain()
    await until(() => datagrams.filter((d) => /test[._]syslog/.test(d)).length === 4, 5000)

    const mine = datagrams.map(parse).filter((p) => /test[._]syslog/.test(p.msgid))
    const by = (msgid: string) => mine.find((p) => p.msgid === msgid)!
    // authpriv (10) * 8 + severity: info 6, notice 5, warning 4
    expect(by('test.syslog_success').pri).toBe(86)
    expect(by('test.syslog_failure').pri).toBe(85)
    expect(by('alert.test_syslog').pri).toBe(84)
    expect(by('test.syslog_info').pri).toBe(86)
    for (const p of mine) {
      expect(p.procid).toBe(String(process.pid))
      expect(p.hostname).toMatch(/^[\x21-\x7e]{1,255}$/)
      expect(Number.isNaN(Date.parse(p.time))).toBe(false)
      expect(p.msg).toMatch(/^CEF:0\|portcullis\|portcullis\|[^|]+\|/)
      expect(p.msg).not.toMatch(/[\r\n]/)
    }
    const success = by('test.syslog_success').msg
    expect(success).toContain('|test.syslog_success|test.syslog_success success|2|')
    expect(success).toContain('suser=ann')
    expect(success).toContain('duser=bob|x')
    expect(success).toContain('src=192.0.2.7')
    expect(success).toContain(String.raw`msg={"note":"a\=b\\nc"}`) // details JSON, then CEF escaping
    // Each datagram is exactly one message (no framing, no trailing newline).
    for (const d of datagrams) expect(d.startsWith('<')).toBe(true)
    expect(await c.queries.audit.outbox.pending('syslog')).toBe(0)
  }, 30_000)
})

describe('audit records to syslog over TCP', () => {
  it.each(databases)(
    'frames messages with octet counting; keeps them in the outbox while the receiver is down, and delivers them once after a restart (%s)',
    async (kind) => {
      // A webhook next to syslog: it is healthy throughout, and syslog being down must not hold it back.
      const hooked: { seq: number; action: string }[] = []
      const hook = http.createServer((req, res) => {
        let body = ''
        req.on('data', (d) => (body += d))
        req.on('end', () => {
          hooked.push(...(JSON.parse(body).events as { seq: number; action: string }[]))
          res.writeHead(204).end()
        })
      })
      await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r))
      cleanups.push(() => new Promise<void>((r) => hook.close(() => r())))

      const port = await freePort() // nothing listens there yet: the receiver is down
      const receiver = tcpReceiver()
      cleanups.push(() => receiver.close())
      const env = {
        AUDIT_SYSLOG_URL: `tcp://127.0.0.1:${port}`,
        AUDIT_SYSLOG_FORMAT: 'json',
        AUDIT_WEBHOOK_URL: `http://127.0.0.1:${(hook.address() as net.AddressInfo).port}/audit`,
      }
      const first = await startTestServer({ env, kind })
      cleanups.push(() => first.close())

      await first.container.audit.record({ action: testAction('test.while_down'), outcome: 'failure', actor: 'ann' })
      await first.container.auditChain.syslog!.drain()
      await first.container.auditChain.webhook!.drain()
      const outbox = first.container.queries.audit.outbox
      expect(await outbox.pending('syslog')).toBeGreaterThan(0)
      expect(await outbox.pending('webhook')).toBe(0)
      expect(hooked.map((e) => e.action)).toContain('test.while_down')
      const waiting = await outbox.pending('syslog')
      await first.shutdown()

      // The receiver comes back; a new process picks up what the old one could not deliver.
      await receiver.listen(port)
      const second = await startTestServer({ env, db: first.db, masterKey: first.config.PORTCULLIS_MASTER_KEY })
      cleanups.push(() => second.shutdown())
      await second.container.audit.record({
        action: testAction('test.after_restart'),
        outcome: 'success',
        actor: 'ann',
      })
      const syslog = second.container.auditChain.syslog!
      // Retried rows wait out their backoff (about a second), so the new record may come first.
      const arrived = (action: string) => receiver.messages.some((m) => parse(m).msgid === action)
      await until(
        () => arrived('test.while_down') && arrived('test.after_restart'),
        8000,
        () => syslog.drain(),
      )
      expect(await second.container.queries.audit.outbox.pending('syslog')).toBe(0)
      await new Promise((r) => setTimeout(r, 300)) // anything sent twice would show up now

      expect(receiver.errors).toEqual([])
      const records = receiver.messages.map((m) => {
        const p = parse(m)
        return { ...p, event: JSON.parse(p.msg) as { seq: number; action: string; outcome: string } }
      })
      const seqs = records.map((r) => r.event.seq)
      expect(new Set(seqs).size).toBe(seqs.length) // no duplicates
      expect(records.length).toBeGreaterThanOrEqual(waiting + 1) // no loss: everything that waited, plus the new one
      const down = records.find((r) => r.event.action === 'test.while_down')!
      expect(down.msgid).toBe('test.while_down')
      expect(down.pri).toBe(85)
      expect(down.event.outcome).toBe('failure')
      expect(records.find((r) => r.event.action === 'test.after_restart')!.pri).toBe(86)
      // The webhook saw each record once as well.
      const hookSeqs = hooked.map((e) => e.seq)
      expect(new Set(hookSeqs).size).toBe(hookSeqs.length)
    },
    45_000,
  )

  it('reconnects when the receiver closed the connection', async () => {
    const receiver = tcpReceiver()
    const port = await receiver.listen()
    cleanups.push(() => receiver.close())
    const server = await startTestServer({ env: { AUDIT_SYSLOG_URL: `tcp://127.0.0.1:${port}` } })
    cleanups.push(() => server.close())
    const syslog = server.container.auditChain.syslog!

    await server.container.audit.record({ action: testAction('test.first_connection'), outcome: 'success' })
    await until(
      () => receiver.messages.some((m) => m.includes('test.first_connection')),
      5000,
      () => syslog.drain(),
    )
    for (const s of receiver.sockets) s.end() // the receiver hangs up (idle timeout, restart)
    await until(() => receiver.sockets.size === 0, 2000)
    await new Promise((r) => setTimeout(r, 100))

    await server.container.audit.record({ action: testAction('test.second_connection'), outcome: 'success' })
    await until(
      () => receiver.messages.some((m) => m.includes('test.second_connection')),
      8000,
      () => syslog.drain(),
    )
    expect(receiver.errors).toEqual([])
    expect(await server.container.queries.audit.outbox.pending('syslog')).toBe(0)
    const msgids = receiver.messages.map((m) => parse(m).msgid)
    expect(msgids.filter((id) => id === 'test.first_connection')).toHaveLength(1)
    expect(msgids.filter((id) => id === 'test.second_connection')).toHaveLength(1)
  }, 30_000)
})

describe('syslog over TLS', () => {
  let openssl = true
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' })
  } catch {
    openssl = false
  }

  it.skipIf(!openssl)(
    'sends octet-counted frames over a verified TLS connection and refuses an untrusted certificate',
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pc-syslog-tls-'))
      cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }))
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
          '-keyout',
          path.join(dir, 'key.pem'),
          '-out',
          path.join(dir, 'cert.pem'),
        ],
        { stdio: 'ignore' },
      )
      const cert = fs.readFileSync(path.join(dir, 'cert.pem'))
      const receiver = tcpReceiver({ tls: { key: fs.readFileSync(path.join(dir, 'key.pem')), cert } })
      const port = await receiver.listen()
      cleanups.push(() => receiver.close())
      const ep = parseSyslogUrl(`tls://127.0.0.1:${port}`)
      if (typeof ep === 'string') throw new Error(ep)

      const untrusted = syslogTransport(ep)
      await expect(untrusted.send(['<86>1 - - portcullis 1 x - never'])).rejects.toThrow(/certificate/i)
      await untrusted.close()

      const trusted = syslogTransport(ep, { tls: { ca: cert } })
      cleanups.push(() => trusted.close())
      const msgs = [
        '<86>1 2026-01-01T00:00:00.000Z h portcullis 1 a - first',
        '<85>1 2026-01-01T00:00:00.000Z h portcullis 1 b - zweite – ünïcode',
      ]
      await trusted.send(msgs)
      await until(() => receiver.messages.length === 2, 5000)
      expect(receiver.messages).toEqual(msgs)
      expect(receiver.errors).toEqual([])
    },
    30_000,
  )
})

describe('AUDIT_SYSLOG_URL and AUDIT_SYSLOG_FORMAT', () => {
  it.each([
    'http://siem.example.com:514',
    'udp://',
    'tcp://siem.example.com:70000',
    'not a url',
    'tcp://user:pw@siem.example.com:514',
    'udp://127.0.0.1:514/path',
  ])('refuses %s naming the variable', (value) => {
    expect(() => loadConfig({ AUDIT_SYSLOG_URL: value })).toThrow(ConfigError)
    expect(() => loadConfig({ AUDIT_SYSLOG_URL: value })).toThrow(/\bAUDIT_SYSLOG_URL\b/)
  })

  it('accepts udp, tcp and tls URLs with default ports, and cef (default) or json', () => {
    expect(loadConfig({ AUDIT_SYSLOG_URL: 'udp://127.0.0.1:514' }).AUDIT_SYSLOG_FORMAT).toBe('cef')
    expect(
      loadConfig({ AUDIT_SYSLOG_URL: 'tls://siem.example.com:6514', AUDIT_SYSLOG_FORMAT: 'json' }).AUDIT_SYSLOG_FORMAT,
    ).toBe('json')
    expect(parseSyslogUrl('udp://siem.example.com')).toEqual({ protocol: 'udp', host: 'siem.example.com', port: 514 })
    expect(parseSyslogUrl('tls://siem.example.com')).toEqual({ protocol: 'tls', host: 'siem.example.com', port: 6514 })
    expect(parseSyslogUrl('tcp://[::1]:1514')).toEqual({ protocol: 'tcp', host: '::1', port: 1514 })
    expect(() => loadConfig({ AUDIT_SYSLOG_FORMAT: 'xml' })).toThrow(/\bAUDIT_SYSLOG_FORMAT\b/)
  })
})
