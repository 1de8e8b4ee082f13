import { hash, verify, type Algorithm } from '@node-rs/argon2'

/**
 * Argon2id with OWASP's parameters (m=19 MiB, t=2, p=1). Hashes stored with other parameters
 * still verify and are upgraded on the next successful login (`needsRehash`).
 */
// Algorithm.Argon2id is 2 (a const enum, which isolatedModules cannot inline).
export const ARGON2_PARAMS = { algorithm: 2 as Algorithm, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_PARAMS)
}

export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  try {
    return await verify(stored, password)
  } catch {
    return false // a malformed stored hash never verifies
  }
}

const PHC = /^\$argon2(id|i|d)\$v=(\d+)\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/

export function isArgon2Hash(value: string) {
  return PHC.test(value)
}

export function needsRehash(stored: string): boolean {
  const m = PHC.exec(stored)
  if (!m) return true
  return m[1] !== 'id' || m[2] !== '19' || Number(m[3]) !== ARGON2_PARAMS.memoryCost
    || Number(m[4]) !== ARGON2_PARAMS.timeCost || Number(m[5]) !== ARGON2_PARAMS.parallelism
}

let dummy: Promise<string> | undefined
/**
 * Verifies against a throwaway hash so a login for an unknown email costs the same time as one
 * for a known email with a wrong password (no user enumeration by timing).
 */
export async function burnVerifyTime(password: string): Promise<void> {
  dummy ??= hashPassword('portcullis-dummy-password-for-timing')
  await verifyPassword(await dummy, password)
}
