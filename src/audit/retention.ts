import type { AuditAction } from './actions.ts'
import type { AuditQueries } from './queries.ts'
import type { CheckpointSigner } from './checkpoints.ts'

/**
 * Retention: deletes records older than `days` days. In the same transaction, a signed `prune`
 * checkpoint of the last deleted record is written: its hash is the prevHash of the first
 * record kept, so the remaining chain still verifies from a trusted start. The prune itself is
 * then recorded (action audit.pruned), so the log never ends up empty.
 */
export async function pruneOlderThan(
  q: AuditQueries,
  signer: CheckpointSigner,
  record: (e: {
    action: AuditAction
    outcome: 'success'
    actor: string
    details: Record<string, unknown>
  }) => Promise<void>,
  days: number,
  opts: { actor?: string; now?: Date } = {},
) {
  const cutoff = new Date((opts.now ?? new Date()).getTime() - days * 86_400_000)
  const last = await q.lastBefore(cutoff)
  if (!last) return { deleted: 0, cutoff, anchorSeq: null as number | null }
  const deleted = await q.pruneUpTo(last.seq, ({ seq, hash }) => signer.sign(seq, hash, 'prune'))
  await record({
    action: 'audit.pruned',
    outcome: 'success',
    actor: opts.actor ?? 'system',
    details: { deleted, before: cutoff.toISOString(), anchor_seq: last.seq, retention_days: days },
  })
  return { deleted, cutoff, anchorSeq: last.seq }
}
