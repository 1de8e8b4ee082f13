import { hash, type Algorithm } from '@node-rs/argon2'
import { parseArgon2, parsePasswordHash } from './password-hashes.ts'

/**
 * Argon2id with OWASP's parameters (m=19 MiB, t=2, p=1). Hashes stored with other parameters
 * still verify and are upgraded on the next successful login (`needsRehash`).
 */
// Algorithm.Argon2id is 2 (a const enum, which isolatedModules cannot inline).
export const ARGON2_PARAMS = { algorithm: 2 as Algorithm, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2_PARAMS)
}

/**
 * Verifies against a stored hash in any accepted format (ours, or one imported from another
 * system: password-hashes.ts). A malformed or unknown stored hash never verifies.
 */
export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  const parsed = parsePasswordHash(stored)
  if (!parsed.ok) return false
  try {
    return await parsed.hash.verify(password)
  } catch {
    return false
  }
}

/** The stored hash's format name (for the audit record of a rehash), or 'unknown'. */
export function hashFormat(stored: string): string {
  const parsed = parsePasswordHash(stored)
  if (!parsed.ok) return 'unknown'
  const a = parsed.hash.format === 'argon2' ? parseArgon2(stored) : undefined
  return a ? `argon2${a.type}` : parsed.hash.format
}

export function isArgon2Hash(value: string) {
  return parseArgon2(value) !== undefined
}

/** True for every hash that is not argon2id v=19 with exactly our parameters. */
export function needsRehash(stored: string): boolean {
  const a = parseArgon2(stored)
  if (!a) return true
  return (
    a.type !== 'id' ||
    a.version !== 19 ||
    a.m !== ARGON2_PARAMS.memoryCost ||
    a.t !== ARGON2_PARAMS.timeCost ||
    a.p !== ARGON2_PARAMS.parallelism
  )
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
