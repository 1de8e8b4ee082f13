import http from 'node:http'
import net from 'node:net'

export interface RawAnswer {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

/**
 * One HTTP/1.1 request exactly as given (path bytes, Host header, body), which fetch does not
 * allow; bounded so a hang fails the test instead of stalling it: `timeoutMs` is the deadline
 * for the whole exchange (a server that drips bytes cannot keep it alive), not just idleness.
 */
export function rawRequest(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer | string,
  timeoutMs = 20_000,
): Promise<RawAnswer> {
  const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body)
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => {
      clearTimeout(deadline)
      reject(err)
    }
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        timeout: timeoutMs,
        headers: {
          host: `localhost:${port}`,
          ...headers,
          ...(payload ? { 'content-length': String(payload.length) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          clearTimeout(deadline)
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') })
        })
        res.on('error', fail)
      },
    )
    const deadline = setTimeout(
      () => req.destroy(new Error(`${method} ${path}: no complete answer within ${timeoutMs} ms`)),
      timeoutMs,
    )
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)))
    req.on('error', fail)
    req.end(payload)
  })
}

/**
 * Writes `bytes` as they are on a fresh connection (header bytes Node's client refuses to send:
 * CR, LF, NUL inside a value, obs-fold lines) and resolves with everything the server sent
 * until it closed the connection. Bounded by `timeoutMs` for the whole exchange.
 */
export function rawExchange(port: number, bytes: Buffer, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    const deadline = setTimeout(() => {
      socket.destroy()
      reject(
        new Error(
          `no closed connection within ${timeoutMs} ms; received: ${Buffer.concat(chunks).toString('latin1').slice(0, 300)}`,
        ),
      )
    }, timeoutMs)
    socket.on('connect', () => socket.end(bytes))
    socket.on('data', (c: Buffer) => chunks.push(c))
    // A reset after the answer (the server closing on a request it refused) is still an answer.
    socket.on('error', () => undefined)
    socket.on('close', () => {
      clearTimeout(deadline)
      resolve(Buffer.concat(chunks).toString('latin1'))
    })
  })
}
