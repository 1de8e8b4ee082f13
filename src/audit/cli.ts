import fs from 'node:fs'
import { once } from 'node:events'
import type { Config } from '../config/env.ts'
import { AppError } from '../errors.ts'
import { formatVerify } from './verify.ts'
import { allEvents, cefLine, jsonLine, parseEventQuery } from './export.ts'
import { buildReport, reportHtml } from './report.ts'
import { reportDeps, type ReportSources } from './report-deps.ts'
import type { AuditLog } from './log.ts'
import type { AuditQueries } from './queries.ts'
import type { AuditChain } from './service.ts'

export interface AuditCliOptions {
  format?: string
  out?: string
  from?: string
  to?: string
  action?: string
  actor?: string
  target?: string
  outcome?: string
  days?: string
}

/** What `portcullis audit ...` needs of the running server (the container has this shape). */
export interface AuditCliDeps {
  audit: Pick<AuditLog, 'flush' | 'record'>
  auditChain: Pick<AuditChain, 'verify' | 'prune' | 'checkpoint'>
  queries: { audit: AuditQueries }
  config: Pick<Config, 'AUDIT_RETENTION_DAYS'>
}

/** What `portcullis report` needs: the report's sources and the audit writer to flush first. */
export type ReportCliDeps = ReportSources & { audit: Pick<AuditLog, 'flush'> }

const usage = (m: string) => new AppError('usage', m, { status: 400 })

function days(v: string | undefined, def: number) {
  if (v === undefined) return def
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw usage('--days must be a whole number of days (1 or more)')
  return n
}

/** Writes to --out (or stdout) with backpressure, for exports of any size. */
async function writer(out: string | undefined) {
  const stream = out ? fs.createWriteStream(out) : process.stdout
  return {
    async write(s: string) {
      if (!stream.write(s)) await once(stream, 'drain')
    },
    async end() {
      if (stream !== process.stdout)
        await new Promise<void>((resolve, reject) =>
          (stream as fs.WriteStream).end((err?: Error | null) => (err ? reject(err) : resolve())),
        )
    },
  }
}

/**
 * portcullis audit verify | export | prune | checkpoint. Returns the exit code: verify exits 1
 * when it finds tampering.
 */
export async function auditCommand(c: AuditCliDeps, sub: string | undefined, o: AuditCliOptions): Promise<number> {
  switch (sub) {
    case 'verify': {
      await c.audit.flush()
      const r = await c.auditChain.verify()
      process.stdout.write(o.format === 'json' ? JSON.stringify(r, null, 2) + '\n' : formatVerify(r))
      return r.ok ? 0 : 1
    }
    case 'export': {
      const format =
        o.format === 'cef'
          ? 'cef'
          : o.format === undefined || o.format === 'yaml' || o.format === 'jsonl'
            ? 'jsonl'
            : undefined
      if (!format) throw usage('audit export --format must be jsonl or cef')
      const q = parseEventQuery({
        ...(o.from ? { from: o.from } : {}),
        ...(o.to ? { to: o.to } : {}),
        ...(o.action ? { action: o.action } : {}),
        ...(o.actor ? { actor: o.actor } : {}),
        ...(o.target ? { target: o.target } : {}),
        ...(o.outcome ? { outcome: o.outcome } : {}),
      })
      await c.audit.flush()
      const w = await writer(o.out)
      let n = 0
      for await (const r of allEvents(c.queries.audit, q)) {
        await w.write((format === 'cef' ? cefLine(r) : jsonLine(r)) + '\n')
        n++
      }
      await w.end()
      if (o.out) process.stderr.write(`exported ${n} record(s) to ${o.out}\n`)
      return 0
    }
    case 'prune': {
      const r = await c.auditChain.prune(days(o.days, c.config.AUDIT_RETENTION_DAYS), 'cli')
      process.stdout.write(
        r.deleted
          ? `deleted ${r.deleted} record(s) older than ${r.cutoff.toISOString()}; signed retention checkpoint at seq ${r.anchorSeq}\n`
          : `nothing older than ${r.cutoff.toISOString()}\n`,
      )
      return 0
    }
    case 'checkpoint': {
      await c.audit.flush()
      const cp = await c.auditChain.checkpoint('manual')
      if (!cp) {
        process.stdout.write('the audit log is empty: nothing to checkpoint\n')
        return 0
      }
      await c.audit.record({
        action: 'audit.checkpoint',
        outcome: 'success',
        actor: 'cli',
        details: { seq: cp.seq, kid: cp.kid },
      })
      process.stdout.write(`checkpoint #${cp.id}: seq ${cp.seq} hash ${cp.hash} signed by ${cp.kid}\n`)
      return 0
    }
    default:
      throw usage(`unknown audit subcommand ${sub ?? ''} (verify | export | prune | checkpoint)`)
  }
}

/** portcullis report [--format json|html] [--days N] [--out FILE] */
export async function reportCommand(c: ReportCliDeps, o: AuditCliOptions): Promise<number> {
  const format =
    o.format === 'html'
      ? 'html'
      : o.format === undefined || o.format === 'yaml' || o.format === 'json'
        ? 'json'
        : undefined
  if (!format) throw usage('report --format must be json or html')
  await c.audit.flush()
  const report = await buildReport(reportDeps(c), { days: days(o.days, 30) })
  const text = format === 'html' ? reportHtml(report) : JSON.stringify(report, null, 2) + '\n'
  if (o.out) fs.writeFileSync(o.out, text)
  else process.stdout.write(text)
  return report.audit.ok ? 0 : 1
}
