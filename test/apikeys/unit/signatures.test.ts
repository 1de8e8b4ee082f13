import { describe, expect, it } from 'vitest'
import { parseDictionary, isInner } from '../../../src/apikeys/structured-fields.ts'
import { contentDigest, signatureBase } from '../../../src/apikeys/signatures.ts'
import { levelProblems, needsApproval } from '../../../src/apikeys/levels.ts'

describe('RFC 8941 dictionaries', () => {
  it('parses Signature-Input and Signature members', () => {
    const d = parseDictionary(
      'sig1=("@method" "@target-uri" "content-digest");created=1618884473;keyid="test-key";nonce="abc", sig2=("@authority")',
    )
    const sig1 = d.get('sig1')!
    expect(isInner(sig1)).toBe(true)
    if (!isInner(sig1)) return
    expect(sig1.items.map((i) => i.value)).toEqual(['@method', '@target-uri', 'content-digest'])
    expect(sig1.params.get('created')).toBe(1618884473)
    expect(sig1.raw).toBe('("@method" "@target-uri" "content-digest");created=1618884473;keyid="test-key";nonce="abc"')
    const s = parseDictionary('sig1=:dGVzdA==:')
    expect((s.get('sig1') as { value: Buffer }).value.toString()).toBe('test')
    for (const bad of ['sig1=("a"', 'sig1=:@@:', 'Sig=1', 'a=1,', 'a="unterminated'])
      expect(() => parseDictionary(bad)).toThrow()
  })
})

describe('signature base (RFC 9421 §2.5)', () => {
  it('matches the RFC 9530 digest example and the base layout', () => {
    // RFC 9530 Appendix B.1: {"hello": "world"} -> sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:
    expect(contentDigest('{"hello": "world"}\n')).toBe('sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:')
    expect(contentDigest('{"hello": "world"}')).toBe('sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:')
    const base = signatureBase(
      ['@method', '@target-uri', 'content-digest'],
      '("@method" "@target-uri" "content-digest");created=1',
      {
        method: 'post',
        targetUri: 'https://example.com/foo?param=Value&Pet=dog',
        header: (n) => (n === 'content-digest' ? ' sha-256=:x: ' : undefined),
      },
    )
    expect(base).toBe(
      '"@method": POST\n"@target-uri": https://example.com/foo?param=Value&Pet=dog\n"content-digest": sha-256=:x:\n"@signature-params": ("@method" "@target-uri" "content-digest");created=1',
    )
  })
})

describe('levels', () => {
  const from = new Date('2030-01-01T00:00:00Z')
  const days = (n: number) => new Date(from.getTime() + n * 86_400_000)
  it('enforces lifetimes, allowlists and signatures per level', () => {
    expect(levelProblems({ level: 'LOW', from, expiresAt: days(365), allowedIps: [], signingAlg: null })).toEqual([])
    expect(
      levelProblems({ level: 'MEDIUM', from, expiresAt: days(181), allowedIps: [], signingAlg: null }),
    ).toHaveLength(1)
    expect(levelProblems({ level: 'HIGH', from, expiresAt: days(90), allowedIps: [], signingAlg: 'ed25519' })).toEqual([
      'a HIGH key needs an IP allowlist (allowed_ips)',
    ])
    expect(
      levelProblems({ level: 'CRITICAL', from, expiresAt: days(31), allowedIps: [], signingAlg: null }),
    ).toHaveLength(3)
    expect(needsApproval('CRITICAL', ['authz:check', 'authz:admin'])).toBe(true)
    expect(needsApproval('CRITICAL', ['authz:check'])).toBe(false)
    expect(needsApproval('HIGH', ['admin'])).toBe(false)
  })
})
