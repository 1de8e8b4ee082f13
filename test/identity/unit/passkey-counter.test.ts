import { describe, expect, it } from 'vitest'
import type { AuthenticationResponseJSON } from '@simplewebauthn/server'
import { counterWentBack } from '../../../src/identity/mfa.ts'

/** An assertion whose authenticatorData carries `counter` (32-byte rpIdHash, flags, counter). */
const assertion = (counter: number) => {
  const data = Buffer.alloc(37)
  data[32] = 0x05
  data.writeUInt32BE(counter, 33)
  return { response: { authenticatorData: data.toString('base64url') } } as unknown as AuthenticationResponseJSON
}

describe('a passkey whose signature counter does not move forward is told apart from a bad signature', () => {
  it('a counter at or below the stored one is a cloned-authenticator refusal (WebAuthn §6.1.1)', () => {
    expect(counterWentBack(assertion(5), 5)).toBe(true)
    expect(counterWentBack(assertion(4), 5)).toBe(true)
    expect(counterWentBack(assertion(0), 5)).toBe(true)
  })

  it('a counter that moves forward, or no counter on both sides, is not', () => {
    expect(counterWentBack(assertion(6), 5)).toBe(false)
    expect(counterWentBack(assertion(0), 0)).toBe(false)
    expect(counterWentBack({ response: {} } as unknown as AuthenticationResponseJSON, 5)).toBe(false)
  })
})
