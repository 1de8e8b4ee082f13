import crypto from 'node:crypto'
import type { Logger } from 'pino'
import type { AuditQueries } from './queries.ts'

/**
 * Delivery of audit records to a webhook (SIEM, alerting) through the outbox table: rows are
 * written in the same transaction as the records (queries.appendBatch), delivered in order in
 * batches, deleted once the receiver answers 2xx, and retried with exponential backoff (1 s
 * doubling to 5 min, with jitter) otherwise. A restart loses nothing; delivery is at least once
 * (each event carries its seq, so receivers can drop duplicates).
 *
 * POST {url} with `{"events": [...]}`; with a secret, `X-Portcullis-Signature: sha256=<hex>`
 * is the HMAC-SHA256 of the body (the scheme GitHub-style webhook receivers expect).
 */
export interface WebhookOptions {
  url: string
  secret?: string
  batch?: number
  pollMs?: number
  timeoutMs?: number
}

export function webhookDelivery(q: AuditQueries, logger: Logger, o: WebhookOptions, hooks: { delivered?: (n: number) => void; failed?: () => void } = {}) {
  const batch = o.batch ?? 100
  let timer: NodeJS.Timeout | undefined
  let running: Promise<number> | undefined
  let stopped = false

  async function deliverOnce(): Promise<number> {
    const now = new Date()
    const rows = await q.outbox.claim(now, new Date(now.getTime() + 60_000 + Math.floor(Math.random() * 1000)), batch)
    if (!rows.length) return 0
    const body = `{"events":[${rows.map((r) => r.payload).join(',')}]}`
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'portcullis-audit' }
    if (o.secret) headers['x-portcullis-signature'] = `sha256=${crypto.createHmac('sha256', o.secret).update(body).digest('hex')}`
    try {
      const res = await fetch(o.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(o.timeoutMs ?? 10_000) })
      await res.arrayBuffer().catch(() => undefined)
      if (!res.ok) throw new Error(`webhook answered ${res.status}`)
      await q.outbox.done(rows.map((r) => r.id))
      hooks.delivered?.(rows.length)
      return rows.length
    } catch (err) {
      const attempts = Math.max(...rows.map((r) => r.attempts)) + 1
      const delay = Math.min(1000 * 2 ** (attempts - 1), 300_000) * (0.8 + Math.random() * 0.4)
      await q.outbox.failed(rows.map((r) => r.id), attempts, new Date(Date.now() + delay), (err as Error).message)
      hooks.failed?.()
      logger.warn({ err: (err as Error).message, events: rows.length, attempts }, 'audit webhook delivery failed; will retry')
      return -1
    }
  }

  /** Delivers until the outbox has nothing due (or a delivery failed). */
  function drain(): Promise<number> {
    running ??= (async () => {
      let total = 0
      for (;;) {
        const n = await deliverOnce()
        if (n <= 0) return total
        total += n
      }
    })().catch((err) => {
      logger.warn({ err }, 'audit outbox read failed')
      return 0
    }).finally(() => { running = undefined })
    return running
  }

  return {
    drain,
    /** Polls the outbox (and is kicked after each commit). */
    start() {
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
    },
  }
}
export type WebhookDelivery = ReturnType<typeof webhookDelivery>
