import crypto from 'node:crypto'
import type { Logger } from 'pino'
import { open, seal, type Keyring } from '../crypto/envelope.ts'
import type { MailQueries } from './queries.ts'
import type { Mail } from './templates.ts'
import type { MailTransport } from './transport.ts'

export interface MailerOptions {
  from: string
  maxAttempts: number
  /** how often the outbox is polled for due mails (ms) */
  pollMs?: number
  /** first retry delay (ms); doubles per attempt up to maxDelayMs */
  baseDelayMs?: number
  maxDelayMs?: number
}

/**
 * Outgoing mail through a durable outbox. `send` only stores the message (sealed with the
 * master key: it may hold a single-use link) and wakes the delivery loop, so a request never
 * waits for the SMTP server and an outage loses nothing: a failed attempt is retried with
 * exponential backoff and jitter (2 s doubling, capped at 15 min) up to `maxAttempts`, then
 * given up with an error log line and `portcullis_mail_deliveries_total{outcome="given_up"}`.
 * Delivery is at least once; rows are claimed with a lease, so several instances share the work.
 */
export function mailService(deps: {
  queries: MailQueries
  transport: MailTransport
  ring: Keyring
  logger: Logger
  options: MailerOptions
  onOutcome?: (kind: string, outcome: 'sent' | 'retry' | 'given_up') => void
}) {
  const { queries: q, logger, options: o } = deps
  const base = o.baseDelayMs ?? 2000
  const cap = o.maxDelayMs ?? 15 * 60_000
  let timer: NodeJS.Timeout | undefined
  let running: Promise<number> | undefined
  let started = false

  async function deliver(row: { id: string; kind: string; message: string; attempts: number }): Promise<boolean> {
    const attempts = row.attempts + 1
    try {
      const mail = JSON.parse(open(deps.ring, row.message, `mail:${row.id}`)) as Mail
      await deps.transport.send({ from: o.from, ...mail })
    } catch (err) {
      const message = (err as Error).message
      if (attempts >= o.maxAttempts) {
        await q.done(row.id)
        deps.onOutcome?.(row.kind, 'given_up')
        logger.error(
          { mail: row.id, kind: row.kind, attempts, err: message },
          'mail delivery given up after the last attempt; the mail is lost',
        )
        return false
      }
      const delay = Math.min(base * 2 ** (attempts - 1), cap) * (0.8 + Math.random() * 0.4)
      await q.retry(row.id, attempts, new Date(Date.now() + delay), message)
      deps.onOutcome?.(row.kind, 'retry')
      logger.warn(
        { mail: row.id, kind: row.kind, attempts, retryInMs: Math.round(delay), err: message },
        'mail delivery failed; will retry',
      )
      return false
    }
    await q.done(row.id)
    deps.onOutcome?.(row.kind, 'sent')
    logger.info({ mail: row.id, kind: row.kind, attempts }, 'mail sent')
    return true
  }

  /** Delivers every due mail; resolves with how many were sent. */
  function drain(): Promise<number> {
    running ??= (async () => {
      let sent = 0
      for (;;) {
        const now = new Date()
        // The lease outlasts the SMTP timeouts: a row is never sent twice by two live instances.
        const rows = await q.claim(now, new Date(now.getTime() + 120_000), 10)
        if (!rows.length) return sent
        for (const row of rows) if (await deliver(row)) sent += 1
      }
    })()
      .catch((err) => {
        logger.warn({ err: (err as Error).message }, 'mail outbox read failed')
        return 0
      })
      .finally(() => {
        running = undefined
      })
    return running
  }

  return {
    transport: deps.transport.describe,
    /** Stores the mail for delivery (committed when this resolves) and wakes the loop. */
    async send(kind: string, mail: Mail) {
      const id = crypto.randomUUID()
      await q.add({ id, kind, message: seal(deps.ring, JSON.stringify(mail), `mail:${id}`) })
      if (started) void drain()
    },
    drain,
    pending: () => q.pending(),
    start() {
      if (started) return
      started = true
      const tick = () => {
        if (!started) return
        void drain().finally(() => {
          if (started) timer = setTimeout(tick, o.pollMs ?? 2000).unref()
        })
      }
      timer = setTimeout(tick, 0).unref()
    },
    async stop() {
      started = false
      if (timer) clearTimeout(timer)
      await running
      deps.transport.close()
    },
  }
}
export type Mailer = ReturnType<typeof mailService>
