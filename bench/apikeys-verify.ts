/**
 * API key verification throughput, in process (the service the bearer scheme and
 * /apikeys/v1/verify call), on SQLite and — when TEST_DATABASE_URL and TEST_REDIS_URL are set —
 * on PostgreSQL + Redis.
 *
 *   node --import tsx bench/apikeys-verify.ts [--seconds 3]
 *
 * Measures: a valid key with a warm cache (the steady state: one in-memory lookup + one
 * HMAC), the same with the cache dropped before every call (one database query each), an
 * HMAC-signed request (RFC 9421; with Redis the nonce check is a Redis round trip), and
 * mistyped keys (refused by the checksum, no lookup). Results: bench/results/apikeys.json.
 */
import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/config/env.ts'
import { createContainer } from '../src/container.ts'
import { createLogger } from '../src/logger.ts'
import { createTestDatabase } from '../src/db/testing.ts'
import { signRequest } from '../src/apikeys/client.ts'
import { parseKey } from '../src/apikeys/format.ts'
import { secretHasher } from '../src/apikeys/hashing.ts'

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '3' } } })
const seconds = Number(values.seconds)

async function rate(fn: () => Promise<unknown>, forSeconds = seconds) {
  const end = performance.now() + forSeconds * 1000
  let n = 0
  while (performance.now() < end) {
    await fn()
    n++
  }
  return Math.round(n / forSeconds)
}

async function run(kind: 'sqlite' | 'postgresql', redisUrl?: string) {
  const db = await createTestDatabase(kind)
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'portcullis-bench-'))
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: db.url,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    PORTCULLIS_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
    ...(redisUrl ? { REDIS_URL: redisUrl, REDIS_PREFIX: `pc-bench-${crypto.randomBytes(4).toString('hex')}:` } : {}),
  })
  const c = await createContainer(config, { logger: createLogger('silent') })
  try {
    await c.clients.upsert({
      client_id: 'bench',
      client_secret: 'bench-secret-0123456789',
      grant_types: ['client_credentials'],
      response_types: [],
      scope: 'authz:check',
    })
    const actor = { label: 'bench', isAdmin: true }
    const plain = await c.apikeys.issue(
      { owner: { type: 'client', id: 'bench' }, name: 'plain', scopes: ['authz:check'], level: 'LOW' },
      actor,
    )
    const signed = await c.apikeys.issue(
      {
        owner: { type: 'client', id: 'bench' },
        name: 'signed',
        scopes: ['authz:check'],
        level: 'CRITICAL',
        allowedIps: ['127.0.0.1'],
        signing: { alg: 'hmac-sha256' },
      },
      actor,
    )
    const ctx = { ip: '127.0.0.1' }
    const ok = async (key: string, extra = {}) => {
      const r = await c.apikeys.verify(key, { ...ctx, ...extra })
      if (!r.ok) throw new Error(`verification failed: ${r.message}`)
    }
    await ok(plain.key)
    const warm = await rate(() => ok(plain.key))
    const cold = await rate(async () => {
      c.apikeys.clearCache()
      await ok(plain.key)
    })
    const url = 'https://api.example.com/orders'
    const signedRate = await rate(async () => {
      const headers = signRequest({
        method: 'GET',
        url,
        keyId: signed.record.id,
        signing: { alg: 'hmac-sha256', secret: signed.signingSecret! },
      })
      await ok(signed.key, {
        request: { method: 'GET', targetUri: url, header: (n: string) => headers[n as keyof typeof headers] },
      })
    })
    // Baseline in the same run (issue 16 §7): the least a cache miss must do — read the key's
    // row from the database and compare its HMAC — with the same Prisma client, nothing else.
    const hasher = secretHasher(c.masterKey.ring)
    const baseline = await rate(async () => {
      const p = parseKey(plain.key)
      if (!p.ok) throw new Error('unparsable key')
      const row = await c.queries.apikeys.find(p.id)
      if (!row || !hasher.verify(p.secret, row.secretHash, row.pepperKid))
        throw new Error('baseline verification failed')
    })
    const typo = plain.key.slice(0, -1) + (plain.key.endsWith('a') ? 'b' : 'a')
    const checksum = await rate(async () => {
      if ((await c.apikeys.verify(typo, ctx)).ok) throw new Error('typo accepted')
    })
    await c.apikeys.flushUsage()
    return {
      valid_key_warm_cache_per_second: warm,
      valid_key_uncached_db_lookup_per_second: cold,
      baseline_db_read_plus_hmac_per_second: baseline,
      ratio_cache_miss_vs_baseline: Math.round((cold / baseline) * 100) / 100,
      hmac_signed_request_per_second: signedRate,
      checksum_rejection_per_second: checksum,
    }
  } finally {
    await c.close()
    await db.drop()
    await fs.rm(dataDir, { recursive: true, force: true })
  }
}

const results: Record<string, unknown> = {
  at: new Date().toISOString(),
  machine: { cpus: os.cpus().length, node: process.version },
  seconds_per_measure: seconds,
}
results.sqlite = await run('sqlite')
console.log('sqlite', results.sqlite)
if (process.env.TEST_DATABASE_URL && process.env.TEST_REDIS_URL) {
  results.postgresql_redis = await run('postgresql', process.env.TEST_REDIS_URL)
  console.log('postgresql + redis', results.postgresql_redis)
} else {
  results.postgresql_redis = { skipped: 'set TEST_DATABASE_URL and TEST_REDIS_URL' }
  console.warn('PostgreSQL + Redis skipped: set TEST_DATABASE_URL and TEST_REDIS_URL')
}
await fs.mkdir('bench/results', { recursive: true })
await fs.writeFile('bench/results/apikeys.json', JSON.stringify(results, null, 2) + '\n')
process.exit(0)
