import net from 'node:net'

/**
 * A lean HTTP/1.1 keep-alive client for load generation. The load generator shares the
 * benchmark machine's cores with the server, and node's http client costs more CPU per request
 * than the server spends on a decision, so this writes preformatted requests to raw sockets and
 * reads back only what the benchmarks need: status, Server-Timing and the body. One request in
 * flight per connection (no pipelining), like a gateway's connection pool.
 */
export interface Reply {
  status: number
  serverTiming?: string
  body: string
}

export class Connection {
  private socket: net.Socket
  private buffer: Buffer = Buffer.alloc(0)
  private pending?: { resolve: (r: Reply) => void; reject: (e: Error) => void }

  private constructor(
    socket: net.Socket,
    private host: string,
  ) {
    this.socket = socket
    socket.setNoDelay(true)
    socket.on('data', (d: Buffer) => this.onData(d))
    socket.on('error', (e) => this.pending?.reject(e))
    socket.on('close', () => this.pending?.reject(new Error('connection closed')))
  }

  static open(port: number, host = '127.0.0.1'): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, host, () => resolve(new Connection(s, `${host}:${port}`)))
      s.once('error', reject)
    })
  }

  post(path: string, headers: Record<string, string>, body: string): Promise<Reply> {
    const lines = [`POST ${path} HTTP/1.1`, `Host: ${this.host}`, `Content-Length: ${Buffer.byteLength(body)}`]
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`)
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject }
      this.socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`)
    })
  }

  private onData(d: Buffer) {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, d]) : d
    const end = this.buffer.indexOf('\r\n\r\n')
    if (end < 0) return
    const head = this.buffer.subarray(0, end).toString('latin1')
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? NaN)
    if (Number.isNaN(length)) return this.pending?.reject(new Error('the bench client needs Content-Length responses'))
    if (this.buffer.length < end + 4 + length) return
    const body = this.buffer.subarray(end + 4, end + 4 + length).toString('utf8')
    this.buffer = this.buffer.subarray(end + 4 + length)
    const p = this.pending
    this.pending = undefined
    p?.resolve({
      status: Number(head.slice(9, 12)),
      serverTiming: /\r\nserver-timing: *([^\r]*)/i.exec(head)?.[1],
      body,
    })
  }

  close() {
    this.socket.destroy()
  }
}
