import crypto from 'node:crypto'
import type { Logger } from 'pino'
import type { AuditQueries, OutboxTarget } from './queries.ts'
import { eventJson } from './export.ts'

/**
 * Delivery of audit records to streaming targets (webhook, syslog) through the outbox table:
 * rows are written in the same transaction as the records (queries.appendBatch), one per record
 * and target, delivered per target in order in batches, deleted once that target accepted them,
 * and retried with exponential backoff (1 s doubling to 5 min, with jitter) otherwise. Each
 * target has its own rows, attempts and backoff: one that is down neither holds back nor
 * duplicates another. A restart loses nothing; delivery is at least once (each event carries
 * its seq, so receivers can drop duplicates).
 */
export interface DeliveryOptions {
  batch?: number
  pollMs?: number
}

/** A send that failed after the first `delivered` rows of the batch were accepted. */
export class PartialDelivery extends Error {
  constructor(
    message: string,
    readonly delivered: number,
  ) {
    super(message)
  }
}

/** Hands a batch of payloads (in order) to the target; resolves once it accepted all of them. */
export type Send = (payloads: string[]) => Promise<void>

export function outboxDelivery(
  q: AuditQueries,
  logger: Logger,
  target: string,
  send: Send,
  o: DeliveryOptions & { close?: () => void | Promise<void> } = {},
  hooks: { delivered?: (n: number) => void; failed?: () => void } = {},
) {
  const batch = o.batch ?? 100
  let timer: NodeJS.Timeout | undefined
  let running: Promise<number> | undefined
  let stopped = false

  async function deliverOnce(): Promise<number> {
    const now = new Date()
    const rows = await q.outbox.claim(
      target,
      now,
      new Date(now.getTime() + 60_000 + Math.floor(Math.random() * 1000)),
      batch,
    )
    if (!rows.length) return 0
    let accepted = 0
    try {
      await send(rows.map((r) => r.payload))
      accepted = rows.length
    } catch (err) {
      accepted = err instanceof PartialDelivery ? Math.max(0, Math.min(err.delivered, rows.length)) : 0
      if (accepted) await q.outbox.done(rows.slice(0, accepted).map((r) => r.id))
      const rest = rows.slice(accepted)
      const attempts = Math.max(...rest.map((r) => r.attempts)) + 1
      const delay = Math.min(1000 * 2 ** (attempts - 1), 300_000) * (0.8 + Math.random() * 0.4)
      await q.outbox.failed(
        rest.map((r) => r.id),
        attempts,
        new Date(Date.now() + delay),
        (err as Error).message,
      )
      if (accepted) hooks.delivered?.(accepted)
      hooks.failed?.()
      logger.warn(
        { err: (err as Error).message, target, events: rest.length, attempts },
        `audit ${target} delivery failed; will retry`,
      )
      return -1
    }
    await q.outbox.done(rows.map((r) => r.id))
    hooks.delivered?.(accepted)
    return accepted
  }

  /** Delivers until the outbox has nothing due for this target (or a delivery failed). */
  function drain(): Promise<number> {
    running ??= (async () => {
      let total = 0
      for (;;) {
        const n = await deliverOnce()
        if (n <= 0) return total
        total += n
      }
    })()
      .catch((err) => {
        logger.warn({ err, target }, 'audit outbox read failed')
        return 0
      })
      .finally(() => {
        running = undefined
      })
    return running
  }

  return {
    target,
    drain,
    /** Polls the outbox (and is kicked after each commit). */
    start() {
      stopped = false
      const tick = () => {
        if (stopped) return
        void drain().finally(() => {
          if (!stopped) timer = setTimeout(tick, o.pollMs ?? 1000).unref()
        })
      }
      timer = setTimeout(tick, 0).unref()
    },
    kick() {
      if (!stopped) void drain()
    },
    async stop() {
      stopped = true
      if (timer) clearTimeout(timer)
      await running
      await o.close?.()
    },
  }
}
export type OutboxDelivery = ReturnType<typeof outboxDelivery>

/**
 * The webhook target: POST {url} with `{"events": [...]}`; with a secret,
 * `X-Portcullis-Signature: sha256=<hex>` is the HMAC-SHA256 of the body (the scheme
 * GitHub-style webhook receivers expect). A 2xx accepts the whole batch.
 */
export interface WebhookOptions extends DeliveryOptions {
  url: string
  secret?: string
  timeoutMs?: number
}

export const webhookOutbox: OutboxTarget = { target: 'webhook', payload: (r) => JSON.stringify(eventJson(r)) }

export function webhookDelivery(
  q: AuditQueries,
  logger: Logger,
  o: WebhookOptions,
  hooks: { delivered?: (n: number) => void; failed?: () => void } = {},
) {
  const send: Send = async (payloads) => {
    const body = `{"events":[${payloads.join(',')}]}`
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'portcullis-audit' }
    if (o.secret)
      headers['x-portcullis-signature'] = `sha256=${crypto.createHmac('sha256', o.secret).update(body).digest('hex')}`
    const res = await fetch(o.url, {
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
    })
    await res.arrayBuffer().catch(() => undefined)
    if (!res.ok) throw new Error(`webhook answered ${res.status}`)
  }
  return outboxDelivery(q, logger, webhookOutbox.target, send, o, hooks)
}
export type WebhookDelivery = OutboxDelivery
