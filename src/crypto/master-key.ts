import fs from 'node:fs'
import path from 'node:path'
import crypto from 'node:crypto'
import { ConfigError } from '../errors.ts'
import { keyId, type Keyring } from './envelope.ts'

/**
 * PORTCULLIS_MASTER_KEY holds one or more base64 (or base64url) encoded 32-byte keys separated by
 * commas; the first seals new values, the others only open old ones (master key rotation).
 * In embedded mode (SQLite, no variable) a key is generated into DATA_DIR/master.key (mode 0600)
 * and the operator is warned: whoever reads that file and the database reads every secret.
 */
export function parseMasterKeys(value: string): Keyring {
  const keys = new Map<string, Buffer>()
  for (const part of value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const key = Buffer.from(part, 'base64')
    if (key.length !== 32) {
      throw new ConfigError(
        'invalid configuration:\n  PORTCULLIS_MASTER_KEY: each key must be 32 bytes, base64 encoded (generate one with `openssl rand -base64 32`)',
      )
    }
    keys.set(keyId(key), key)
  }
  if (keys.size === 0) throw new ConfigError('invalid configuration:\n  PORTCULLIS_MASTER_KEY: no key given')
  return { currentId: keys.keys().next().value!, keys }
}

export interface MasterKeyResult {
  ring: Keyring
  /** set when the key was generated or read from DATA_DIR instead of the environment */
  file?: string
  generated: boolean
}

export function loadMasterKey(opts: { value?: string; embedded: boolean; dataDir: string }): MasterKeyResult {
  if (opts.value) return { ring: parseMasterKeys(opts.value), generated: false }
  if (!opts.embedded) {
    throw new ConfigError(
      'invalid configuration:\n  PORTCULLIS_MASTER_KEY: required with a PostgreSQL DATABASE_URL (generate one with `openssl rand -base64 32`)',
    )
  }
  const file = path.join(opts.dataDir, 'master.key')
  fs.mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 })
  let generated = false
  try {
    // 'wx': never overwrite a key another process just wrote.
    fs.writeFileSync(file, crypto.randomBytes(32).toString('base64') + '\n', { flag: 'wx', mode: 0o600 })
    generated = true
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
  }
  return { ring: parseMasterKeys(fs.readFileSync(file, 'utf8').trim()), file, generated }
}
