/**
 * Timing of API key verification: a near miss (one character off) against a far miss, over the
 * stored HMAC with crypto.timingSafeEqual. The ratio should stay near 1; measured here and not
 * asserted in tests, where a loaded machine would make any wall-clock bound flaky.
 *
 *   node --import tsx bench/constant-time.ts [--rounds 20000]
 */
import { parseArgs } from 'node:util'
import crypto from 'node:crypto'
import { newKey, newKeyId } from '../src/apikeys/format.ts'
import { secretHasher } from '../src/apikeys/hashing.ts'

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '20000' } } })
const rounds = Number(values.rounds)
const h = secretHasher({ currentId: 'new', keys: new Map([['new', crypto.randomBytes(32)]]) })
const { secret } = newKey(newKeyId())
const stored = h.hash(secret).hash
const near = secret.slice(0, -1) + (secret.endsWith('a') ? 'b' : 'a')
const far = 'z'.repeat(secret.length)
const time = (s: string) => {
  const t = process.hrtime.bigint()
  for (let i = 0; i < rounds; i++) h.verify(s, stored, 'new')
  return Number(process.hrtime.bigint() - t)
}
time(near); time(far) // warm up
const samples = Array.from({ length: 7 }, () => time(near) / time(far)).sort((a, b) => a - b)
const median = samples[3]!
console.log(JSON.stringify({ rounds, near_over_far_median: Number(median.toFixed(3)), samples: samples.map((s) => Number(s.toFixed(3))) }))
