import fs from 'node:fs/promises'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { passwordResetMail } from '../../src/mail/templates.ts'
import { freePort, startTestServer, type TestServer } from '../helpers/server.ts'
import { startSmtp, type TestSmtp } from '../helpers/smtp.ts'

/**
 * Outgoing mail (issue 14 §1) against a real SMTP server in the test process: delivery through
 * the outbox, an outage that loses nothing, STARTTLS policy, giving up after the last attempt,
 * and embedded mode writing .eml files.
 */
const servers: TestServer[] = []
const smtps: TestSmtp[] = []
afterAll(async () => {
  for (const s of servers) await s.close()
  for (const s of smtps) await s.close()
})
async function server(env: Record<string, string>, logSink?: string[]) {
  const s = await startTestServer({ env, ...(logSink ? { logSink } : {}) })
  servers.push(s)
  return s
}
async function smtp(opts: Parameters<typeof startSmtp>[0] = {}) {
  const s = await startSmtp(opts)
  smtps.push(s)
  return s
}
const brand = { product: 'Acme <ID> & Co' }
const mailTo = (to: string) =>
  passwordResetMail(brand, { to, link: 'https://id.example.com/password/reset?token=abc', ttlSeconds: 1800 })
async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 60_000) {
  const end = Date.now() + timeoutMs
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe('outgoing mail', () => {
  it('a queued mail reaches the SMTP server with text and HTML parts, the sender, the product name, and escaped HTML', async () => {
    const mx = await smtp()
    const s = await server({ SMTP_URL: mx.url, SMTP_REQUIRE_STARTTLS: 'false', MAIL_FROM: 'Acme ID <id@acme.example>' })
    await s.container.mail.send('test', mailTo('ann@example.com'))
    const got = await mx.waitFor((m) => m.subject === 'Reset your Acme <ID> & Co password')
    expect(got.from?.text).toBe('"Acme ID" <id@acme.example>')
    expect(got.to && !Array.isArray(got.to) ? got.to.text : '').toBe('ann@example.com')
    expect(got.text).toContain('https://id.example.com/password/reset?token=abc')
    expect(got.html).toContain('Acme &lt;ID&gt; &amp; Co')
    expect(got.html).not.toContain('<ID>')
    await until('the outbox to empty', async () => (await s.container.mail.pending()) === 0)
  })

  it('while the SMTP server is down the mail waits in the outbox (sealed), and is delivered once it is up', async () => {
    const port = await freePort()
    const s = await server({
      SMTP_URL: `smtp://127.0.0.1:${port}`,
      SMTP_REQUIRE_STARTTLS: 'false',
      MAIL_FROM: 'id@acme.example',
    })
    await s.container.mail.send('test', mailTo('cat@example.com'))
    await until('a failed attempt', async () =>
      (await s.container.db.mailOutbox.findMany()).some((r) => r.attempts >= 1),
    )
    const rows = await s.container.db.mailOutbox.findMany()
    expect(rows).toHaveLength(1)
    expect(rows[0]!.lastError).toBeTruthy()
    expect(rows[0]!.message).not.toContain('cat@example.com')
    expect(rows[0]!.message).not.toContain('token=abc')
    const mx = await smtp({ port })
    const got = await mx.waitFor((m) => m.text?.includes('cat@example.com') ?? false)
    expect(got.subject).toBe('Reset your Acme <ID> & Co password')
    await until('the outbox to empty', async () => (await s.container.mail.pending()) === 0)
    expect((await s.container.metrics.scrape()).body).toMatch(
      /portcullis_mail_deliveries_total\{kind="test",outcome="retry"\} [1-9]/,
    )
  })

  it('SMTP_REQUIRE_STARTTLS (the default): a server without STARTTLS gets nothing; one offering it gets the mail over TLS', async () => {
    const plain = await smtp()
    const s = await server({ SMTP_URL: plain.url, MAIL_FROM: 'id@acme.example' })
    await s.container.mail.send('test', mailTo('dan@example.com'))
    await until('a refused attempt', async () =>
      (await s.container.db.mailOutbox.findMany()).some((r) => r.attempts >= 1),
    )
    expect(plain.messages).toHaveLength(0)
    expect((await s.container.db.mailOutbox.findFirst())!.lastError).toMatch(/STARTTLS/i)

    const tls = await smtp({ starttls: true })
    // The test server's certificate is self-signed: refused by default...
    const strict = await server({ SMTP_URL: tls.url, MAIL_FROM: 'id@acme.example' })
    await strict.container.mail.send('test', mailTo('eli@example.com'))
    await until('a refused attempt', async () =>
      (await strict.container.db.mailOutbox.findMany()).some((r) => r.attempts >= 1),
    )
    expect(tls.messages).toHaveLength(0)
    // ...and accepted when the operator says so.
    const lax = await server({ SMTP_URL: tls.url, MAIL_FROM: 'id@acme.example', SMTP_TLS_REJECT_UNAUTHORIZED: 'false' })
    await lax.container.mail.send('test', mailTo('fay@example.com'))
    await tls.waitFor((m) => m.text?.includes('fay@example.com') ?? false)
  })

  it('after MAIL_MAX_ATTEMPTS failures the mail is given up: an error log line and a metric', async () => {
    const port = await freePort()
    const logs: string[] = []
    const s = await server(
      {
        SMTP_URL: `smtp://127.0.0.1:${port}`,
        SMTP_REQUIRE_STARTTLS: 'false',
        MAIL_FROM: 'id@acme.example',
        MAIL_MAX_ATTEMPTS: '1',
      },
      logs,
    )
    await s.container.mail.send('password_reset', mailTo('gil@example.com'))
    await until('the mail to be given up', async () => (await s.container.mail.pending()) === 0)
    expect(logs.some((l) => l.includes('mail delivery given up'))).toBe(true)
    expect(logs.join('\n')).not.toContain('gil@example.com')
    expect((await s.container.metrics.scrape()).body).toMatch(
      /portcullis_mail_deliveries_total\{kind="password_reset",outcome="given_up"\} 1/,
    )
  })

  it('without SMTP_URL mails become .eml files in DATA_DIR/mail, and the start says so loudly', async () => {
    const logs: string[] = []
    const s = await server({}, logs)
    expect(logs.some((l) => l.includes('SMTP_URL is not set') && l.includes('"level":40'))).toBe(true)
    await s.container.mail.send('test', mailTo('hal@example.com'))
    const dir = path.join(s.config.DATA_DIR, 'mail')
    await until('an .eml file', async () => (await fs.readdir(dir).catch(() => [])).some((f) => f.endsWith('.eml')))
    const [file] = (await fs.readdir(dir)).filter((f) => f.endsWith('.eml'))
    const eml = await fs.readFile(path.join(dir, file!), 'utf8')
    expect(eml).toMatch(/^To: hal@example\.com$/m)
    expect(eml).toContain('Subject: Reset your Acme <ID> & Co password')
    expect((await fs.stat(path.join(dir, file!))).mode & 0o077).toBe(0)
  })
})
