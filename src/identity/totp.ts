import { generateSecret, generateURI, verify } from 'otplib'

/**
 * TOTP (RFC 6238) with otplib v13: SHA-1, 6 digits, 30-second steps — what every authenticator
 * app understands. A code is accepted for the current step and one step either side (RFC 6238
 * §5.2 recommends allowing one step of network delay; we allow the same drift both ways), and
 * never for a step at or before the last accepted one (replay, RFC 6238 §5.2).
 */
export const TOTP_PERIOD = 30

export const newTotpSecret = () => generateSecret({ length: 20 }) // 160 bits (RFC 4226 §4 R6)

export function totpUri(secret: string, issuer: string, label: string) {
  return generateURI({ issuer, label, secret })
}

/** The otpauth:// URI as an inline SVG QR code (a data: URL, so no extra request and no inline script). */
export async function totpQrDataUrl(uri: string) {
  // loaded at the first enrolment, not at start (issue 16 §7: idle memory)
  const { default: QRCode } = await import('qrcode')
  const svg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 })
  return `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`
}

/** Normalizes what a person types: spaces and dashes are ignored. */
export const cleanCode = (code: string) => code.replace(/[\s-]/g, '')

/**
 * Verifies a code; returns the matched time step, or undefined. `afterStep`: the last accepted
 * step for this secret (codes for it and earlier steps are rejected).
 */
export async function verifyTotp(
  secret: string,
  code: string,
  opts: { afterStep?: number | null; now?: number } = {},
): Promise<number | undefined> {
  const token = cleanCode(code)
  if (!/^\d{6}$/.test(token)) return undefined
  try {
    const r = await verify({
      secret,
      token,
      period: TOTP_PERIOD,
      epochTolerance: TOTP_PERIOD,
      ...(opts.now !== undefined ? { epoch: opts.now } : {}),
      ...(opts.afterStep != null ? { afterTimeStep: opts.afterStep } : {}),
    })
    return r.valid ? (r as { timeStep: number }).timeStep : undefined
  } catch {
    return undefined // malformed secret or token: simply not valid
  }
}
