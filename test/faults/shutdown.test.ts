import http from 'node:http'
import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { importFile, spawnPortcullis, type PortcullisProcess } from '../helpers/portcullis-process.ts'
import { basic, IMPORT_DOC } from './load.ts'

/**
 * SIGTERM under load (issue 16 §6, §8), on a separate `portcullis serve` process (embedded
 * SQLite: draining connections does not depend on the deployment). What a client notices: a
 * request in flight when the server is told to stop still gets its whole response, marked
 * `Connection: close` so the client does not reuse the connection; idle keep-alive connections
 * are closed at once instead of holding the shutdown open; the process exits 0 long before the
 * shutdown timeout even while clients keep sending on keep-alive connections.
 */

const TOKEN_BODY = 'grant_type=client_credentials'

/** One raw HTTP/1.1 connection, to see exactly what the server sends and when it closes. */
class RawConnection {
  private data = ''
  private waiters: (() => void)[] = []
  closed = false
  readonly socket: net.Socket
  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1')
    this.socket.setEncoding('utf8')
    this.socket.on('data', (d: string) => {
      this.data += d
      this.wake()
    })
    this.socket.on('error', () => {})
    this.socket.on('close', () => {
      this.closed = true
      this.wake()
    })
  }
  private wake() {
    for (const w of this.waiters.splice(0)) w()
  }
  write(text: string) {
    this.socket.write(text)
  }
  /** waits until the received text satisfies `test` (or the connection closes / `ms` pass) */
  async until(test: (received: string, closed: boolean) => boolean, ms = 20_000): Promise<string> {
    const deadline = Date.now() + ms
    while (!test(this.data, this.closed)) {
      if (Date.now() > deadline) throw new Error(`timed out; received so far:\n${this.data}`)
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve)
        setTimeout(resolve, 200)
      })
    }
    return this.data
  }
  take() {
    const d = this.data
    this.data = ''
    return d
  }
}

interface LoadResult {
  sentAfterSignal: boolean
  reused: boolean
  status?: number
  connection?: string
  error?: string
}

/** A client that sends token requests one after another on one keep-alive connection. */
async function keepAliveClient(port: number, results: LoadResult[], signalled: () => boolean) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  try {
    for (;;) {
      const sentAfterSignal = signalled()
      const r = await new Promise<LoadResult>((resolve) => {
        const req = http.request(
          {
            port,
            host: '127.0.0.1',
            path: '/token',
            method: 'POST',
            agent,
            headers: {
              authorization: basic,
              'content-type': 'application/x-www-form-urlencoded',
              'content-length': String(TOKEN_BODY.length),
            },
          },
          (res) => {
            res.resume()
            res.on('end', () =>
              resolve({
                sentAfterSignal,
                reused: req.reusedSocket,
                status: res.statusCode,
                connection: res.headers.connection,
              }),
            )
            res.on('error', (err) =>
              resolve({
                sentAfterSignal,
                reused: req.reusedSocket,
                error: (err as NodeJS.ErrnoException).code ?? err.message,
              }),
            )
          },
        )
        req.on('error', (err) =>
          resolve({
            sentAfterSignal,
            reused: req.reusedSocket,
            error: (err as NodeJS.ErrnoException).code ?? err.message,
          }),
        )
        req.end(TOKEN_BODY)
      })
      results.push(r)
      if (r.error) return // refused: the server stopped listening
    }
  } finally {
    agent.destroy()
  }
}

/** Resolves once a new connection is refused: the server has begun its shutdown. */
async function listenerClosed(port: number, ms = 20_000) {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1')
      s.once('connect', () => {
        s.destroy()
        resolve(false)
      })
      s.once('error', () => resolve(true))
    })
    if (refused) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error('the server kept accepting connections after SIGTERM')
}

describe('SIGTERM under load', () => {
  let server: PortcullisProcess
  let doc: ReturnType<typeof importFile>

  beforeAll(async () => {
    doc = importFile(IMPORT_DOC)
    // A long shutdown timeout: the server must finish well before it, not be cut off by it.
    server = await spawnPortcullis({ PORTCULLIS_IMPORT: doc.file, SHUTDOWN_TIMEOUT: '30' })
    await server.waitForStatus('/readyz', 200, 120_000)
  }, 180_000)

  afterAll(async () => {
    await server?.stop()
    doc?.remove()
  })

  it('finishes in-flight requests with Connection: close, closes idle connections at once, and exits 0 before the timeout', async () => {
    // an idle keep-alive connection
    const idle = new RawConnection(server.port)
    idle.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n')
    expect(await idle.until((d) => d.includes('{"status":"ok"}'))).toMatch(/^HTTP\/1\.1 200/)
    expect(idle.take()).not.toMatch(/connection: close/i)

    // a request in flight: headers read by the server (it said 100 Continue), body not yet sent
    const inFlight = new RawConnection(server.port)
    inFlight.write(
      `POST /token HTTP/1.1\r\nHost: localhost\r\nAuthorization: ${basic}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${TOKEN_BODY.length}\r\nExpect: 100-continue\r\n\r\n`,
    )
    expect(await inFlight.until((d) => d.includes('\r\n\r\n'))).toMatch(/^HTTP\/1\.1 100 Continue/)
    inFlight.take()

    // clients busy on keep-alive connections
    let signalled = false
    const results: LoadResult[] = []
    const clients = Array.from({ length: 4 }, () => keepAliveClient(server.port, results, () => signalled))
    const deadline = Date.now() + 30_000
    while (results.length < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    expect(results.length).toBeGreaterThanOrEqual(20)

    signalled = true
    server.child.kill('SIGTERM')
    await listenerClosed(server.port)
    // the idle connection is closed by the server while a request is still in flight
    await idle.until((_, closed) => closed)
    expect(server.child.exitCode).toBeNull()

    // the in-flight request completes, marked Connection: close, and then its connection ends
    inFlight.write(TOKEN_BODY)
    const response = await inFlight.until((_, closed) => closed)
    expect(response).toMatch(/^HTTP\/1\.1 200 /)
    expect(response).toMatch(/\r\nconnection: close\r\n/i)
    expect(response).toContain('"access_token"')

    await Promise.all(clients)
    const { code } = await server.exited
    expect(code).toBe(0)
    const messages = server.logs().map((l) => l.msg)
    expect(messages).toContain('shutdown complete')
    expect(messages).not.toContain('shutdown timeout reached; closing remaining connections')

    // Every answered request was served in full; every request sent before the signal was
    // answered. After it, a client may race the server: its request on a connection the server
    // just closed as idle is refused or cut before any response, which HTTP lets a client retry
    // (RFC 9112 §9.3.1) — at most once per client, since the server accepts no new connection.
    expect(results.filter((r) => r.status !== undefined && r.status !== 200)).toEqual([])
    expect(results.filter((r) => r.error && !r.sentAfterSignal)).toEqual([])
    const raced = results.filter((r) => r.error && r.error !== 'ECONNREFUSED')
    expect(raced.every((r) => r.reused && r.sentAfterSignal)).toBe(true)
    expect(raced.length).toBeLessThanOrEqual(4)
  }, 120_000)
})
