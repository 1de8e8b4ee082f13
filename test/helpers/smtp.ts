import type { AddressInfo } from 'node:net'
import { simpleParser, type ParsedMail } from 'mailparser'
import { SMTPServer } from 'smtp-server'

/**
 * A real SMTP server in the test process (smtp-server), keeping every message it accepted,
 * parsed (mailparser). `starttls: true` offers STARTTLS with smtp-server's built-in
 * self-signed certificate; otherwise the command is not offered.
 */
export interface TestSmtp {
  port: number
  url: string
  messages: ParsedMail[]
  /** polls (bounded) until a message matches; returns it */
  waitFor(match: (m: ParsedMail) => boolean, timeoutMs?: number): Promise<ParsedMail>
  close(): Promise<void>
}

export async function startSmtp(opts: { port?: number; starttls?: boolean } = {}): Promise<TestSmtp> {
  const messages: ParsedMail[] = []
  const server = new SMTPServer({
    authOptional: true,
    logger: false,
    disabledCommands: opts.starttls ? [] : ['STARTTLS'],
    onData(stream, _session, callback) {
      simpleParser(stream).then(
        (m) => {
          messages.push(m)
          callback()
        },
        (err: Error) => callback(err),
      )
    },
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve())
  })
  const port = (server.server.address() as AddressInfo).port
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages,
    async waitFor(match, timeoutMs = 60_000) {
      const until = Date.now() + timeoutMs
      for (;;) {
        const found = messages.find(match)
        if (found) return found
        if (Date.now() > until)
          throw new Error(
            `no matching mail within ${timeoutMs} ms (got ${messages.length}: ${messages.map((m) => m.subject).join('; ')})`,
          )
        await new Promise((r) => setTimeout(r, 100))
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/** The first link to `path` in a mail's text part. */
export function linkIn(mail: ParsedMail, path: string): URL {
  const m = (mail.text ?? '').match(new RegExp(`https?://\\S+${path.replace(/[/?]/g, '\\$&')}\\S*`))
  if (!m) throw new Error(`no ${path} link in mail: ${mail.text}`)
  return new URL(m[0])
}
