import { notYaml, type Command } from '../commands/command.ts'

/** `portcullis audit` and `report`: dependency-free (src/commands/command.ts). */
export const auditCommands: Record<string, Command> = {
  audit: {
    usage: `  audit verify [--format text|json]
                             walk the audit hash chain and its signed checkpoints; exit 1 on tampering
  audit export [--format jsonl|cef] [--out FILE] [--from ISO] [--to ISO] [--action A] [--actor X]
               [--target T] [--outcome success|failure|info]
                             write audit records as JSON Lines or CEF (oldest first)
  audit prune [--days N]     delete records older than N days (default AUDIT_RETENTION_DAYS), keeping the chain verifiable
  audit checkpoint           sign a checkpoint of the audit chain now`,
    async run(config, rest, values) {
      const c = await config()
      return (await import('../commands/audit.ts')).audit(c, rest[0], { ...values, format: notYaml(values.format) })
    },
  },
  report: {
    usage: `  report [--format json|html] [--days N] [--out FILE]
                             compliance report (period: the last N days, default 30); exit 1 if the audit chain fails`,
    async run(config, _rest, values) {
      const c = await config()
      return (await import('../commands/audit.ts')).report(c, { ...values, format: notYaml(values.format) })
    },
  },
}
