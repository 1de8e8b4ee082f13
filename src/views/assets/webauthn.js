// The WebAuthn ceremony, one of the two scripts portcullis pages use (served from /assets, so the
// Content-Security-Policy needs no 'unsafe-inline'). A button with data-webauthn="register" or
// "authenticate" asks the server for options (POST data-options), runs navigator.credentials,
// posts the result to data-verify, and follows the `redirect` the server answers with.
/* global window, document, navigator, atob, btoa */
'use strict'
;(function () {
  const b64urlToBuf = (s) => {
    const pad = '='.repeat((4 - (s.length % 4)) % 4)
    const bin = atob((s + pad).replace(/-/g, '+').replace(/_/g, '/'))
    return Uint8Array.from(bin, (c) => c.charCodeAt(0)).buffer
  }
  const bufToB64url = (buf) => {
    let bin = ''
    for (const b of new Uint8Array(buf)) bin += String.fromCharCode(b)
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
  }
  let active
  async function post(url, csrf, body) {
    const res = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf, accept: 'application/json' },
      body: JSON.stringify(body),
    })
    const data = await res.json().catch(() => ({}))
    // The page's words (data-msg-* on the button, in the page's language; views/strong-login.ts)
    if (!res.ok)
      throw new Error(
        data.error_description || (active && active.dataset.msgFailed) || 'The passkey could not be used. Try again.',
      )
    return data
  }
  async function register(btn, extra) {
    const o = await post(btn.dataset.options, btn.dataset.csrf, extra)
    const cred = await navigator.credentials.create({
      publicKey: {
        ...o,
        challenge: b64urlToBuf(o.challenge),
        user: { ...o.user, id: b64urlToBuf(o.user.id) },
        excludeCredentials: (o.excludeCredentials || []).map((c) => ({ ...c, id: b64urlToBuf(c.id) })),
      },
    })
    const r = cred.response
    return post(btn.dataset.verify, btn.dataset.csrf, {
      ...extra,
      credential: {
        id: cred.id,
        rawId: bufToB64url(cred.rawId),
        type: cred.type,
        clientExtensionResults: cred.getClientExtensionResults(),
        authenticatorAttachment: cred.authenticatorAttachment || undefined,
        response: {
          clientDataJSON: bufToB64url(r.clientDataJSON),
          attestationObject: bufToB64url(r.attestationObject),
          transports: typeof r.getTransports === 'function' ? r.getTransports() : [],
        },
      },
    })
  }
  async function authenticate(btn) {
    const o = await post(btn.dataset.options, btn.dataset.csrf, {})
    const cred = await navigator.credentials.get({
      publicKey: {
        ...o,
        challenge: b64urlToBuf(o.challenge),
        allowCredentials: (o.allowCredentials || []).map((c) => ({ ...c, id: b64urlToBuf(c.id) })),
      },
    })
    const r = cred.response
    return post(btn.dataset.verify, btn.dataset.csrf, {
      credential: {
        id: cred.id,
        rawId: bufToB64url(cred.rawId),
        type: cred.type,
        clientExtensionResults: cred.getClientExtensionResults(),
        authenticatorAttachment: cred.authenticatorAttachment || undefined,
        response: {
          clientDataJSON: bufToB64url(r.clientDataJSON),
          authenticatorData: bufToB64url(r.authenticatorData),
          signature: bufToB64url(r.signature),
          userHandle: r.userHandle ? bufToB64url(r.userHandle) : undefined,
        },
      },
    })
  }
  function init() {
    if (!window.PublicKeyCredential) return
    for (const btn of document.querySelectorAll('[data-webauthn]')) {
      btn.hidden = false
      const errorEl = document.getElementById(btn.dataset.error)
      btn.addEventListener('click', async () => {
        if (errorEl) errorEl.hidden = true
        btn.disabled = true
        active = btn
        try {
          const nameInput = btn.dataset.nameInput && document.getElementById(btn.dataset.nameInput)
          const extra = nameInput ? { name: nameInput.value } : {}
          const result = btn.dataset.webauthn === 'register' ? await register(btn, extra) : await authenticate(btn)
          window.location.assign(result.redirect)
        } catch (err) {
          btn.disabled = false
          if (errorEl) {
            errorEl.textContent =
              err && err.name === 'NotAllowedError'
                ? btn.dataset.msgCancelled || 'The passkey request was cancelled or timed out.'
                : (err && err.message) || btn.dataset.msgFailed || 'Something went wrong.'
            errorEl.hidden = false
          }
        }
      })
    }
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init)
  else init()
})()
