import type { Logger } from 'pino'
import type { AuditLog } from '../audit/log.ts'
import type { ApiKeyQueries } from './queries.ts'

/**
 * Expiry warnings ahead of time: a sweep (at start, then hourly, on every instance) records one
 * `apikey.expiring` audit event per live key entering the warning window. The key row is marked
 * in the same step (a conditional update), so several instances never warn twice.
 * `countExpiringSoon` is for the metrics endpoint (gauge of keys near expiry).
 */
export function expiryWatcher(deps: {
  queries: ApiKeyQueries
  audit: AuditLog
  logger: Logger
  warnSeconds: number
  intervalMs?: number
}) {
  let timer: NodeJS.Timeout | undefined
  async function sweep(now = new Date()) {
    const due = await deps.queries.expiringUnwarned(now, new Date(now.getTime() + deps.warnSeconds * 1000))
    let warned = 0
    for (const k of due) {
      // the mark and the warning commit together: a crash between them cannot swallow the warning
      const marked = await deps.queries.markWarned(
        k.id,
        now,
        deps.audit.with((first: boolean) =>
          first
            ? {
                action: 'apikey.expiring',
                outcome: 'success',
                actor: 'system',
                target: `apikey:${k.id}`,
                details: {
                  owner: `${k.ownerType}:${k.ownerId}`,
                  name: k.name,
                  level: k.level,
                  expires_at: k.expiresAt.toISOString(),
                },
              }
            : null,
        ),
      )
      if (marked) warned++
    }
    return warned
  }
  return {
    sweep,
    /** Live keys expiring within `withinSeconds` (default: the warning window). */
    countExpiringSoon(withinSeconds = deps.warnSeconds, now = new Date()) {
      return deps.queries.countExpiring(now, new Date(now.getTime() + withinSeconds * 1000))
    },
    start() {
      void sweep().catch((err) => deps.logger.warn({ err }, 'API key expiry sweep failed'))
      timer = setInterval(
        () => void sweep().catch((err) => deps.logger.warn({ err }, 'API key expiry sweep failed')),
        deps.intervalMs ?? 3_600_000,
      )
      timer.unref()
    },
    stop() {
      if (timer) clearInterval(timer)
    },
  }
}
