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
import { burnVerifyTime, hashPassword, verifyPassword } from '../src/identity/passwords.ts'

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
time(near)
time(far) // warm up
const samples = Array.from({ length: 7 }, () => time(near) / time(far)).sort((a, b) => a - b)
const median = samples[3]!
console.log(
  JSON.stringify({
    apikey_rounds: rounds,
    near_over_far_median: Number(median.toFixed(3)),
    samples: samples.map((s) => Number(s.toFixed(3))),
  }),
)

// Sign-in: an unknown email costs a verification against a throwaway hash (burnVerifyTime),
// a known one with a wrong password a verification against its own hash.
const stored2 = await hashPassword('the real password of a user')
const ms = async (f: () => Promise<unknown>) => {
  const t = process.hrtime.bigint()
  for (let i = 0; i < 5; i++) await f()
  return Number(process.hrtime.bigint() - t) / 5e6
}
await burnVerifyTime('warm up')
const ratios: number[] = []
for (let i = 0; i < 5; i++)
  ratios.push(
    (await ms(() => burnVerifyTime('wrong guess'))) / (await ms(() => verifyPassword(stored2, 'wrong guess'))),
  )
ratios.sort((a, b) => a - b)
console.log(
  JSON.stringify({
    signin_unknown_over_wrong_password_median: Number(ratios[2]!.toFixed(3)),
    samples: ratios.map((r) => Number(r.toFixed(3))),
  }),
)
