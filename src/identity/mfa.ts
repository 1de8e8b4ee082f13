import crypto from 'node:crypto'
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server'
import { deriveKey, open, seal, type Keyring } from '../crypto/envelope.ts'
import type { FactorRecord, MfaQueries } from './queries/mfa.ts'
import type { Audited } from '../db/audited.ts'
import { cleanCode, newTotpSecret, totpQrDataUrl, totpUri, verifyTotp } from './totp.ts'

/**
 * @simplewebauthn/server and its ASN.1/CBOR packages are loaded at the first passkey ceremony,
 * not at start (issue 16 §7: idle memory, start to ready); most servers never see one.
 */
/**
 * Whether an assertion's signature counter fails to move forward (WebAuthn §6.1.1 step 21): the
 * counter is bytes 33-36 of authenticatorData (§6.1), big-endian; 0 on both sides means the
 * authenticator keeps no counter.
 */
export function counterWentBack(response: AuthenticationResponseJSON, stored: number): boolean {
  const data = Buffer.from(String(response?.response?.authenticatorData ?? ''), 'base64url')
  if (data.length < 37) return false
  const counter = data.readUInt32BE(33)
  return (counter > 0 || stored > 0) && counter <= stored
}

let webauthnModule: Promise<typeof import('@simplewebauthn/server')> | undefined
const webauthn = () => (webauthnModule ??= import('@simplewebauthn/server'))
import { safeEqual } from '../crypto/constant-time.ts'

export { ACR_MFA, ACR_PWD } from './acr.ts'
export const RECOVERY_CODE_COUNT = 10

/** A factor as pages and APIs see it: never the secret or key material. */
export interface FactorView {
  id: string
  type: 'totp' | 'webauthn'
  name: string
  createdAt: Date
  lastUsedAt: Date | null
  deviceType: string | null
}
const view = (f: FactorRecord): FactorView => ({
  id: f.id,
  type: f.type,
  name: f.name,
  createdAt: f.createdAt,
  lastUsedAt: f.lastUsedAt,
  deviceType: f.deviceType,
})

export type TotpCheck = { ok: true; factorId: string } | { ok: false; reason: 'invalid' | 'replay' | 'no_factor' }

/**
 * RFC 8176 amr for a passkey: a synced ("multiDevice", backed up) passkey's key lives in
 * software that syncs it, so `swk`; a device-bound one is hardware-protected, `hwk`.
 */
export const passkeyAmr = (deviceType: string | null) => (deviceType === 'multiDevice' ? 'swk' : 'hwk')

// Recovery codes: 10 groups of base32 without look-alikes (no 0/O, 1/I/L), 50 bits each.
const ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789'
function randomCode() {
  const bytes = crypto.randomBytes(10)
  let s = ''
  for (const b of bytes) s += ALPHABET[b % ALPHABET.length] // 31 symbols; bias is negligible at this length
  return `${s.slice(0, 5)}-${s.slice(5)}`.toLowerCase()
}
const normalizeRecovery = (code: string) => code.replace(/[\s-]/g, '').toUpperCase()

/** What the parts of the MFA service share: the factor queries, the key ring, the relying party. */
interface MfaContext {
  q: MfaQueries
  ring: Keyring
  issuer: string
  rpID: string
  origin: string
}
const totpContext = (factorId: string) => `totp-secret:${factorId}`

/** TOTP factors: secrets sealed with the master key, bound to the factor id; each step used once. */
function totpFactors({ q, ring, issuer }: MfaContext) {
  return {
    /** A new secret and what the enrolment page shows: the otpauth URI as a QR code and as text. */
    async startTotp(label: string) {
      const secret = newTotpSecret()
      const uri = totpUri(secret, issuer, label)
      return { secret, uri, qr: await totpQrDataUrl(uri) }
    },
    async totpQr(secret: string, label: string) {
      const uri = totpUri(secret, issuer, label)
      return { uri, qr: await totpQrDataUrl(uri) }
    },
    /** Seals a pending secret for keeping between the enrolment page and its confirmation. */
    sealPending: (secret: string, context: string) => seal(ring, secret, `totp-pending:${context}`),
    openPending: (sealed: string, context: string) => open(ring, sealed, `totp-pending:${context}`),
    /**
     * Confirms enrolment with a code from the app; the code's step is recorded as used, so it
     * cannot be replayed at the next sign-in.
     */
    async confirmTotp(
      userId: string,
      secret: string,
      code: string,
      name: string,
      audit?: Audited<FactorView>,
    ): Promise<FactorView | undefined> {
      const step = await verifyTotp(secret, code)
      if (step === undefined) return undefined
      const id = crypto.randomUUID()
      const f = await q.createFactor(
        {
          id,
          userId,
          type: 'totp',
          name: name.trim().slice(0, 64) || 'Authenticator app',
          secret: seal(ring, secret, totpContext(id)),
        },
        audit,
      )
      await q.claimTotpStep(f.id, step)
      return view(f)
    },
    /** Imports a known base32 secret (the import document's `totp_secret`); idempotent. */
    /** With `audit`, the imported factor and its record commit together (db/audited.ts). */
    async importTotp(userId: string, secret: string, audit?: Audited<FactorRecord>) {
      const clean = secret.replace(/\s/g, '').toUpperCase()
      for (const f of await q.listFactors(userId)) {
        if (f.type === 'totp' && f.secret && open(ring, f.secret, totpContext(f.id)) === clean) return false
      }
      const id = crypto.randomUUID()
      await q.createFactor(
        {
          id,
          userId,
          type: 'totp',
          name: 'Authenticator app (imported)',
          secret: seal(ring, clean, totpContext(id)),
        },
        audit,
      )
      return true
    },
    async verifyTotp(userId: string, code: string): Promise<TotpCheck> {
      const factors = (await q.listFactors(userId)).filter((f) => f.type === 'totp' && f.secret)
      if (!factors.length) return { ok: false, reason: 'no_factor' }
      for (const f of factors) {
        const step = await verifyTotp(open(ring, f.secret!, totpContext(f.id)), code)
        if (step === undefined) continue
        // A matching code for a step at or before the last accepted one is a replay.
        if (await q.claimTotpStep(f.id, step)) return { ok: true, factorId: f.id }
        return { ok: false, reason: 'replay' }
      }
      return { ok: false, reason: 'invalid' }
    },
  }
}

/** One-time recovery codes: HMAC-SHA256 with a pepper derived from the master key. */
function recoveryCodes({ q, ring }: MfaContext) {
  const pepper = (kid: string) => {
    const key = ring.keys.get(kid)
    return key ? deriveKey(key, 'recovery-codes') : undefined
  }
  const hashCode = (kid: string, userId: string, code: string) =>
    crypto
      .createHmac('sha256', pepper(kid)!)
      .update(`${userId}:${normalizeRecovery(code)}`)
      .digest('base64url')
  return {
    /** Replaces the user's recovery codes with 10 new ones; returns them (shown once, never stored). */
    async regenerateRecoveryCodes(userId: string, audit?: Audited<void>) {
      const kid = ring.currentId
      const codes = Array.from({ length: RECOVERY_CODE_COUNT }, randomCode)
      await q.replaceRecoveryCodes(
        userId,
        codes.map((c) => ({ id: crypto.randomUUID(), codeHash: hashCode(kid, userId, c), pepperKid: kid })),
        audit,
      )
      return codes
    },
    remainingRecoveryCodes: (userId: string) => q.countUnusedRecoveryCodes(userId),
    async useRecoveryCode(userId: string, code: string) {
      if (!/^[A-Z0-9]{10}$/.test(normalizeRecovery(code))) return false
      for (const row of await q.unusedRecoveryCodes(userId)) {
        if (!pepper(row.pepperKid)) continue
        if (safeEqual(hashCode(row.pepperKid, userId, code), row.codeHash)) return q.useRecoveryCode(row.id)
      }
      return false
    },
  }
}

/** WebAuthn passkeys (@simplewebauthn/server): counters and credential ids checked. */
function passkeys({ q, rpID, origin }: MfaContext) {
  return {
    async registrationOptions(user: { id: string; email: string; name: string | null }) {
      const existing = (await q.listFactors(user.id)).filter((f) => f.type === 'webauthn')
      return (await webauthn()).generateRegistrationOptions({
        rpName: 'portcullis',
        rpID,
        userName: user.email,
        userDisplayName: user.name ?? user.email,
        userID: new TextEncoder().encode(user.id),
        attestationType: 'none',
        // A credential already registered cannot be registered again (WebAuthn §5.1.3 step 3).
        excludeCredentials: existing.map((f) => ({ id: f.credentialId!, transports: f.transports })),
        // Discoverable ("resident") credentials so the passkey can also be the first factor.
        authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
      })
    },
    async verifyRegistration(
      userId: string,
      response: RegistrationResponseJSON,
      challenge: string,
      name: string,
      audit?: Audited<FactorView>,
    ): Promise<FactorView> {
      const r = await (
        await webauthn()
      ).verifyRegistrationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: origin,
        expectedRPID: rpID,
        requireUserVerification: false,
      })
      if (!r.verified) throw new Error('registration not verified')
      const cred = r.registrationInfo.credential
      if (await q.findByCredentialId(cred.id)) throw new Error('this passkey is already registered')
      const f = await q.createFactor(
        {
          id: crypto.randomUUID(),
          userId,
          type: 'webauthn',
          name: name.trim().slice(0, 64) || 'Passkey',
          credentialId: cred.id,
          publicKey: Buffer.from(cred.publicKey).toString('base64url'),
          counter: cred.counter,
          transports: cred.transports ?? response.response.transports ?? [],
          deviceType: r.registrationInfo.credentialDeviceType,
          backedUp: r.registrationInfo.credentialBackedUp,
        },
        audit,
      )
      return view(f)
    },
    async authenticationOptions(userId?: string) {
      const allow = userId ? (await q.listFactors(userId)).filter((f) => f.type === 'webauthn') : []
      return (await webauthn()).generateAuthenticationOptions({
        rpID,
        allowCredentials: allow.map((f) => ({ id: f.credentialId!, transports: f.transports })),
        // Passwordless sign-in needs user verification to count as multi-factor.
        userVerification: userId ? 'preferred' : 'required',
      })
    },
    /**
     * Verifies an assertion. The credential id must be registered (to `userId` when given); the
     * signature counter must move forward (a cloned authenticator is refused, WebAuthn §6.1.1).
     */
    async verifyAuthentication(
      response: AuthenticationResponseJSON,
      challenge: string,
      opts: { userId?: string; requireUserVerification: boolean },
    ) {
      const f = typeof response?.id === 'string' ? await q.findByCredentialId(response.id) : null
      if (!f || f.type !== 'webauthn' || (opts.userId && f.userId !== opts.userId))
        return { ok: false as const, reason: 'unknown_credential' }
      // The user handle, when the authenticator returns one, must be this credential's user.
      const handle = response.response?.userHandle
      if (handle && Buffer.from(handle, 'base64url').toString('utf8') !== f.userId)
        return { ok: false as const, reason: 'user_handle_mismatch' }
      let r
      try {
        r = await (
          await webauthn()
        ).verifyAuthenticationResponse({
          response,
          expectedChallenge: challenge,
          expectedOrigin: origin,
          expectedRPID: rpID,
          credential: {
            id: f.credentialId!,
            publicKey: Buffer.from(f.publicKey!, 'base64url'),
            counter: f.counter,
            transports: f.transports,
          },
          requireUserVerification: opts.requireUserVerification,
        })
      } catch {
        // The library's error has no code: decide from the counter itself, not from its message.
        return { ok: false as const, reason: counterWentBack(response, f.counter) ? 'counter' : 'invalid' }
      }
      if (!r.verified) return { ok: false as const, reason: 'invalid' }
      if (!(await q.advanceCounter(f.id, f.counter, r.authenticationInfo.newCounter)))
        return { ok: false as const, reason: 'counter' }
      return {
        ok: true as const,
        userId: f.userId,
        factorId: f.id,
        amr: passkeyAmr(f.deviceType),
        userVerified: r.authenticationInfo.userVerified,
      }
    },
  }
}

/**
 * Second factors: TOTP (secrets sealed with the master key, bound to the factor id), WebAuthn
 * passkeys (@simplewebauthn/server; counters and credential ids checked), and one-time
 * recovery codes (HMAC-SHA256 with a pepper derived from the master key).
 */
export function mfaService(deps: { queries: MfaQueries; ring: Keyring; issuer: string; publicUrl: string }) {
  const q = deps.queries
  const url = new URL(deps.publicUrl)
  const c: MfaContext = { q, ring: deps.ring, issuer: deps.issuer, rpID: url.hostname, origin: url.origin }

  return {
    rpID: c.rpID,
    origin: c.origin,
    async list(userId: string) {
      return (await q.listFactors(userId)).map(view)
    },
    async hasFactor(userId: string) {
      return (await q.countFactors(userId)) > 0
    },
    async hasPasskey(userId: string) {
      return (await q.listFactors(userId)).some((f) => f.type === 'webauthn')
    },
    ...totpFactors(c),
    ...recoveryCodes(c),
    ...passkeys(c),
    /** Recovery codes exist to replace a lost factor: without any factor they go too. */
    remove: (userId: string, factorId: string, audit?: Audited<boolean>) => q.removeFactor(userId, factorId, audit),
    /** Every factor and recovery code of a user, with its audit record (given the removed factors). */
    removeAll: (userId: string, audit?: Audited<FactorRecord[]>) => q.removeAllFactors(userId, audit),
    rename: (userId: string, factorId: string, name: string, audit?: Audited<boolean>) =>
      q.renameFactor(userId, factorId, name.trim().slice(0, 64), audit),
    cleanCode,
  }
}
export type MfaService = ReturnType<typeof mfaService>
