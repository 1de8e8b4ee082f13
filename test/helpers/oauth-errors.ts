/**
 * The OAuth error an openid-client call failed with, whichever way the server sent it: in the
 * JSON body (ResponseBodyError) or, for a 401 to Basic authentication, also in the
 * `WWW-Authenticate: Basic error="..."` challenge (RFC 6749 §5.2), which openid-client reports
 * as a WWWAuthenticateChallengeError.
 */
export async function oauthError(call: Promise<unknown>): Promise<{ status?: number; error?: string }> {
  try {
    await call
  } catch (e) {
    const err = e as { status?: number; error?: string; cause?: unknown; response?: Response }
    if (err.error) return { status: err.status, error: err.error }
    const challenges = Array.isArray(err.cause) ? (err.cause as { parameters?: { error?: string } }[]) : []
    return {
      status: err.status ?? err.response?.status,
      error: challenges.find((c) => c.parameters?.error)?.parameters?.error,
    }
  }
  throw new Error('expected the call to fail')
}
