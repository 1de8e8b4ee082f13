import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { open, seal } from '../../../src/crypto/envelope.ts'
import { loadMasterKey, parseMasterKeys } from '../../../src/crypto/master-key.ts'
import { ConfigError } from '../../../src/errors.ts'

const key = () => crypto.randomBytes(32).toString('base64')

describe('encryption at rest (AES-256-GCM keyring)', () => {
  it('round-trips and binds the ciphertext to its context', () => {
    const ring = parseMasterKeys(key())
    const sealed = seal(ring, 'private jwk', 'signing-key:a')
    expect(sealed).toMatch(/^v1\.[0-9a-f]{8}\./)
    expect(sealed).not.toContain('private jwk')
    expect(open(ring, sealed, 'signing-key:a')).toBe('private jwk')
    expect(() => open(ring, sealed, 'signing-key:b')).toThrow()
  })

  it('detects tampering', () => {
    const ring = parseMasterKeys(key())
    const parts = seal(ring, 'secret', 'ctx').split('.')
    const ct = Buffer.from(parts[4]!, 'base64url')
    ct[0] = ct[0]! ^ 1
    parts[4] = ct.toString('base64url')
    expect(() => open(ring, parts.join('.'), 'ctx')).toThrow()
  })

  it('opens values sealed under an older master key after rotation', () => {
    const oldKey = key()
    const sealed = seal(parseMasterKeys(oldKey), 'secret', 'ctx')
    const rotated = parseMasterKeys(`${key()},${oldKey}`)
    expect(open(rotated, sealed, 'ctx')).toBe('secret')
    expect(seal(rotated, 'x', 'ctx').split('.')[1]).toBe(rotated.currentId)
    expect(() => open(parseMasterKeys(key()), sealed, 'ctx')).toThrow(/PORTCULLIS_MASTER_KEY/)
  })

  it('rejects master keys of the wrong size, naming the variable', () => {
    expect(() => parseMasterKeys(Buffer.alloc(16).toString('base64'))).toThrow(/PORTCULLIS_MASTER_KEY/)
  })

  it('generates a 0600 key file in embedded mode and reuses it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pc-mk-'))
    const first = loadMasterKey({ embedded: true, dataDir: dir })
    expect(first.generated).toBe(true)
    expect(fs.statSync(first.file!).mode & 0o777).toBe(0o600)
    const second = loadMasterKey({ embedded: true, dataDir: dir })
    expect(second.generated).toBe(false)
    expect(second.ring.currentId).toBe(first.ring.currentId)
    fs.rmSync(dir, { recursive: true })
  })

  it('requires PORTCULLIS_MASTER_KEY outside the embedded mode', () => {
    expect(() => loadMasterKey({ embedded: false, dataDir: '/nonexistent' })).toThrow(ConfigError)
  })
})
