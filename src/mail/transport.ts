import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { Transporter } from 'nodemailer'

// Loaded at the first mail, not at start: CLI commands that build a container never pay for it.
const load = async () => (await import('nodemailer')).default

/** Where mails go: an SMTP server, or (embedded mode) .eml files in DATA_DIR/mail. */
export interface MailTransport {
  /** what the start-up log says about it (never credentials) */
  describe: string
  send(m: { from: string; to: string; subject: string; text: string; html: string }): Promise<void>
  close(): void
}

export interface SmtpOptions {
  url: string
  requireStartTls: boolean
  rejectUnauthorized: boolean
  /** connection, greeting and socket timeouts in ms: a frozen server fails the attempt, it never hangs it */
  timeoutMs?: number
}

/**
 * SMTP through nodemailer. `smtps://` is implicit TLS (RFC 8314 §3.3, port 465 by default);
 * `smtp://` upgrades with STARTTLS (RFC 3207, port 587 by default) and, with
 * `requireStartTls`, refuses to send over a connection that could not be upgraded, so a
 * stripped STARTTLS offer cannot expose the message or the credentials.
 */
export function smtpTransport(o: SmtpOptions): MailTransport {
  const url = new URL(o.url)
  const secure = url.protocol === 'smtps:'
  const timeout = o.timeoutMs ?? 15_000
  let transport: Promise<Transporter> | undefined
  const get = () =>
    (transport ??= load().then((nodemailer) =>
      nodemailer.createTransport({
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port ? Number(url.port) : secure ? 465 : 587,
        secure,
        requireTLS: !secure && o.requireStartTls,
        auth: url.username
          ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) }
          : undefined,
        tls: { rejectUnauthorized: o.rejectUnauthorized },
        connectionTimeout: timeout,
        greetingTimeout: timeout,
        socketTimeout: timeout,
      }),
    ))
  return {
    describe: `${url.protocol}//${url.host}${secure ? '' : o.requireStartTls ? ' (STARTTLS required)' : ' (STARTTLS when offered)'}`,
    async send(m) {
      await (await get()).sendMail(m)
    },
    close: () => void transport?.then((t) => t.close()),
  }
}

/**
 * Embedded mode: each mail becomes `DATA_DIR/mail/<time>-<id>.eml` (RFC 5322, readable by any
 * mail client), private to the service's user. The quick start works end to end: the reset
 * link is in the file.
 */
export function fileTransport(dir: string): MailTransport {
  let transport: Promise<Transporter> | undefined
  const get = () =>
    (transport ??= load().then((nodemailer) =>
      nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' }),
    ))
  return {
    describe: `files in ${dir}`,
    async send(m) {
      const info = await (await get()).sendMail(m)
      await fs.mkdir(dir, { recursive: true, mode: 0o700 })
      const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${crypto.randomBytes(4).toString('hex')}.eml`
      await fs.writeFile(path.join(dir, name), info.message as Buffer, { mode: 0o600 })
    },
    close: () => void transport?.then((t) => t.close()),
  }
}
