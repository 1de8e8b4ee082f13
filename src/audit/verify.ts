import type * as jose from 'jose'
import { GENESIS_HASH, recordHash } from './canonical.ts'
import type { AuditQueries, AuditRow } from './queries.ts'
import { publicKeyMap, type CheckpointSigner, type VerifiedCheckpoint } from './checkpoints.ts'

/**
 * Walks the chain in seq order and the signed checkpoints, and names the first record that was
 * edited, deleted, inserted or reordered, and a truncated tail.
 *
 * How each kind of tampering shows (every record's hash covers its seq and its prevHash):
 * - edited: the record's own hash no longer matches its content; or, if the editor recomputed
 *   it, the next record's prevHash no longer matches it; or, if the editor rewrote every later
 *   hash too, a signed checkpoint disagrees with the chain.
 * - deleted: a gap in seq; or, if later records were renumbered to close it, the next record's
 *   hash matches its content only at a higher seq.
 * - inserted: a record whose neighbours chain around it (the following record's prevHash is
 *   the inserted one's prevHash), or a record before the retention anchor.
 * - reordered: a record whose hash matches its content at another seq and whose prevHash is
 *   the hash of a record that now comes after it.
 * - truncated: the last record is older than the newest signed checkpoint.
 * Records appended after the newest checkpoint are protected by the chain alone: anyone able to
 * write the table could append well-formed records there (as could the server itself).
 */
export type ProblemKind = 'edited' | 'deleted' | 'inserted' | 'reordered' | 'truncated' | 'checkpoint_invalid'

export interface Problem {
  kind: ProblemKind
  /** the record concerned (for checkpoint_invalid: the checkpoint's claimed seq) */
  seq: number
  message: string
}

export interface VerifyResult {
  ok: boolean
  records: number
  firstSeq: number | null
  lastSeq: number | null
  lastHash: string | null
  anchor: { seq: number; kind: 'genesis' | 'prune' }
  checkpoints: {
    total: number
    valid: number
    latest: { seq: number; kind: string; kid: string; signedAt: string } | null
  }
  /** sorted by seq; problems[0] is the first tampered record */
  problems: Problem[]
  verifiedAt: string
}

const PAGE = 2000
const LOOK = 64 // how far renumbering / reordering is traced

/** The signed checkpoints (the invalid ones reported), the retention anchor and the newest checkpoint. */
async function checkpointsOf(
  q: AuditQueries,
  signer: CheckpointSigner,
  publicKeys: Map<string, jose.JWK>,
  problems: Problem[],
) {
  const rows = await q.checkpoints.all()
  const valid: VerifiedCheckpoint[] = []
  for (const row of rows) {
    const v = await signer.verify(row, publicKeys)
    if ('error' in v)
      problems.push({
        kind: 'checkpoint_invalid',
        seq: row.seq,
        message: `checkpoint #${row.id} (seq ${row.seq}) cannot be trusted: ${v.error}`,
      })
    else valid.push(v)
  }
  const signedAt = new Map<number, VerifiedCheckpoint[]>()
  for (const v of valid) signedAt.set(v.seq, [...(signedAt.get(v.seq) ?? []), v])
  const prunes = valid.filter((v) => v.kind === 'prune').sort((a, b) => b.seq - a.seq)
  const anchor = prunes[0]
    ? { seq: prunes[0].seq, hash: prunes[0].hash, kind: 'prune' as const }
    : { seq: 0, hash: GENESIS_HASH, kind: 'genesis' as const }
  const latest = [...valid].sort((a, b) => b.seq - a.seq || b.iat - a.iat)[0]
  return { rows, valid, signedAt, anchor, latest }
}

const hashAt = (r: AuditRow, seq: number) => recordHash({ ...r, seq, prevHash: r.prevHash ?? '' })

/**
 * Names what happened to a record that does not continue the chain (the first one: after it the
 * chain is broken and only checkpoints are compared).
 */
function classify(
  r: AuditRow,
  ahead: AuditRow[],
  at: { expectedSeq: number; expectedPrev: string; prev: AuditRow | undefined; anchor: { seq: number; kind: string } },
  report: (kind: ProblemKind, seq: number, message: string) => void,
) {
  const { expectedSeq, expectedPrev, prev, anchor } = at
  if (r.seq < expectedSeq) {
    report(
      'inserted',
      r.seq,
      anchor.kind === 'prune'
        ? `record ${r.seq} lies before the retention anchor (records up to ${anchor.seq} were pruned): it was inserted`
        : `record ${r.seq} has a seq before the first record: it was inserted`,
    )
    return
  }
  if (r.seq > expectedSeq) {
    report(
      'deleted',
      expectedSeq,
      `record${r.seq - expectedSeq > 1 ? `s ${expectedSeq}-${r.seq - 1}` : ` ${expectedSeq}`} missing: deleted (the chain jumps from ${expectedSeq - 1} to ${r.seq})`,
    )
    return
  }
  const selfOk = r.hash !== null && hashAt(r, r.seq) === r.hash
  if (selfOk) {
    // The record is intact but does not chain to its predecessor: the predecessor changed
    // (and its hash was recomputed), or this record replaced the real one.
    if (prev) report('edited', prev.seq, `record ${prev.seq} was edited: record ${r.seq} chained to a different hash`)
    else
      report(
        'edited',
        r.seq,
        `record ${r.seq} does not chain to the ${anchor.kind === 'prune' ? `retention anchor (seq ${anchor.seq})` : 'start of the log'}: it was replaced`,
      )
    return
  }
  // Where would this record's hash fit? A match at another seq means it was moved.
  let moved: number | undefined
  for (let d = 1; d <= LOOK && moved === undefined && r.hash; d++) {
    if (hashAt(r, r.seq + d) === r.hash) moved = d
    else if (r.seq - d > 0 && hashAt(r, r.seq - d) === r.hash) moved = -d
  }
  if (moved !== undefined) {
    if (ahead.some((a) => a.hash === r.prevHash)) {
      report(
        'reordered',
        r.seq,
        `record ${r.seq} holds the record written as ${r.seq + moved}, which chains to a record that now comes after it: records were reordered`,
      )
    } else if (moved > 0) {
      report(
        'deleted',
        r.seq,
        `${moved} record(s) deleted at seq ${r.seq}: the following records were renumbered (record ${r.seq} was written as ${r.seq + moved})`,
      )
    } else if (prev && r.prevHash === prev.prevHash) {
      report(
        'inserted',
        prev.seq,
        `record ${prev.seq} was inserted: record ${r.seq} (written as ${r.seq + moved}) chains to the record before it`,
      )
    } else {
      report('inserted', r.seq + moved, `record(s) inserted before ${r.seq}: it was written as ${r.seq + moved}`)
    }
    return
  }
  const next = ahead[0]
  if (next?.hash && next.seq === r.seq + 1 && hashAt(next, r.seq) === next.hash && next.prevHash === expectedPrev) {
    report(
      'inserted',
      r.seq,
      `record ${r.seq} was inserted: the record after it was written as ${r.seq} and chains to ${r.seq - 1}`,
    )
    return
  }
  report('edited', r.seq, `record ${r.seq} was edited: its content does not match its hash`)
}

export async function verifyChain(
  q: AuditQueries,
  signer: CheckpointSigner,
  keys: { list(): Promise<{ kid: string; publicJwk: string }[]> },
): Promise<VerifyResult> {
  const problems: Problem[] = []
  const publicKeys: Map<string, jose.JWK> = await publicKeyMap(keys as never)
  const { rows, valid, signedAt, anchor, latest } = await checkpointsOf(q, signer, publicKeys, problems)

  // The walk, over a buffer that always holds LOOK rows ahead of the current one.
  let buffer: AuditRow[] = []
  let nextFrom = -2_147_483_648 // the smallest 32-bit seq (PostgreSQL integer)
  let exhausted = false
  async function fill() {
    while (!exhausted && buffer.length <= LOOK + 1) {
      const page = await q.range(nextFrom, PAGE)
      if (page.length < PAGE) exhausted = true
      if (page.length) nextFrom = page[page.length - 1]!.seq + 1
      buffer = buffer.concat(page)
    }
  }

  let expectedSeq = anchor.seq + 1
  let expectedPrev = anchor.hash
  let prev: AuditRow | undefined
  let chainBroken = false
  let records = 0
  let firstSeq: number | null = null
  let last: AuditRow | undefined

  const report = (kind: ProblemKind, seq: number, message: string) => {
    problems.push({ kind, seq, message })
    chainBroken = true
  }

  await fill()
  while (buffer.length) {
    const r = buffer.shift()!
    records += 1
    firstSeq ??= r.seq
    if (!chainBroken) {
      if (r.seq === expectedSeq && r.prevHash === expectedPrev && r.hash !== null && hashAt(r, r.seq) === r.hash) {
        expectedSeq += 1
        expectedPrev = r.hash
      } else {
        classify(r, buffer.slice(0, LOOK), { expectedSeq, expectedPrev, prev, anchor }, report)
      }
    }
    for (const cp of signedAt.get(r.seq) ?? []) {
      if (cp.hash !== r.hash && !problems.some((p) => p.seq <= r.seq && p.kind !== 'checkpoint_invalid')) {
        const after = valid.filter((v) => v.seq < r.seq && v.seq >= (firstSeq ?? 0)).sort((a, b) => b.seq - a.seq)[0]
        problems.push({
          kind: 'edited',
          seq: after ? after.seq + 1 : r.seq,
          message: `the chain was rewritten: record ${r.seq}'s hash differs from the one signed in checkpoint #${cp.id} (${new Date(cp.iat * 1000).toISOString()}); the first changed record is between ${after ? after.seq + 1 : firstSeq} and ${r.seq}`,
        })
      }
    }
    prev = r
    last = r
    if (buffer.length <= LOOK) await fill()
  }

  const lastSeq = last?.seq ?? null
  if (latest && (lastSeq ?? anchor.seq) < latest.seq) {
    const from = (lastSeq ?? anchor.seq) + 1
    problems.push({
      kind: 'truncated',
      seq: from,
      message: `the log was truncated: records ${from}-${latest.seq} are missing (checkpoint #${latest.id} signed seq ${latest.seq})`,
    })
  }
  problems.sort((a, b) => a.seq - b.seq)
  return {
    ok: problems.length === 0,
    records,
    firstSeq,
    lastSeq,
    lastHash: last?.hash ?? null,
    anchor: { seq: anchor.seq, kind: anchor.kind },
    checkpoints: {
      total: rows.length,
      valid: valid.length,
      latest: latest
        ? { seq: latest.seq, kind: latest.kind, kid: latest.kid, signedAt: new Date(latest.iat * 1000).toISOString() }
        : null,
    },
    problems,
    verifiedAt: new Date().toISOString(),
  }
}

/** Human-readable lines for the CLI. */
export function formatVerify(r: VerifyResult): string {
  const lines = [
    `audit chain: ${r.records} record(s)${r.firstSeq !== null ? `, seq ${r.firstSeq}-${r.lastSeq}` : ''}, anchored at ${r.anchor.kind === 'genesis' ? 'the start' : `retention checkpoint seq ${r.anchor.seq}`}`,
    `checkpoints: ${r.checkpoints.valid}/${r.checkpoints.total} valid${r.checkpoints.latest ? `, latest seq ${r.checkpoints.latest.seq} (${r.checkpoints.latest.kind}, key ${r.checkpoints.latest.kid}, ${r.checkpoints.latest.signedAt})` : ''}`,
  ]
  if (r.ok) lines.push('OK: no tampering found')
  else for (const p of r.problems) lines.push(`TAMPERED [${p.kind}] seq ${p.seq}: ${p.message}`)
  return lines.join('\n') + '\n'
}
