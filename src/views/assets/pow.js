// Proof of work for the sign-up form (identity/signup-challenge.ts): find a nonce such that
// SHA-256("<challenge>:<nonce>") starts with <bits> zero bits, then allow the form to be sent.
// Plain SHA-256 in script (no SubtleCrypto: it needs a secure context and is slow per call).
/* global document */
;(function () {
  'use strict'
  var K = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
    0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
    0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
    0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
  ]
  var W = new Int32Array(64)
  // SHA-256 of an ASCII string; returns the first word of the digest (enough for up to 32 bits).
  function firstWord(s) {
    var n = s.length,
      blocks = ((n + 8) >> 6) + 1,
      m = new Int32Array(blocks * 16),
      i
    for (i = 0; i < n; i++) m[i >> 2] |= s.charCodeAt(i) << (24 - (i & 3) * 8)
    m[n >> 2] |= 0x80 << (24 - (n & 3) * 8)
    m[blocks * 16 - 1] = n * 8
    var h0 = 0x6a09e667,
      h1 = 0xbb67ae85,
      h2 = 0x3c6ef372,
      h3 = 0xa54ff53a,
      h4 = 0x510e527f,
      h5 = 0x9b05688c,
      h6 = 0x1f83d9ab,
      h7 = 0x5be0cd19
    for (var b = 0; b < blocks; b++) {
      for (i = 0; i < 64; i++) {
        if (i < 16) W[i] = m[b * 16 + i]
        else {
          var x = W[i - 15],
            y = W[i - 2]
          W[i] =
            (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) +
            W[i - 7] +
            (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)) +
            W[i - 16]
        }
      }
      var a = h0,
        c = h1,
        d = h2,
        e = h3,
        f = h4,
        g = h5,
        h = h6,
        k = h7
      for (i = 0; i < 64; i++) {
        var t1 =
          k +
          (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7))) +
          ((f & g) ^ (~f & h)) +
          K[i] +
          W[i]
        var t2 =
          (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
          ((a & c) ^ (a & d) ^ (c & d))
        k = h
        h = g
        g = f
        f = (e + t1) | 0
        e = d
        d = c
        c = a
        a = (t1 + t2) | 0
      }
      h0 = (h0 + a) | 0
      h1 = (h1 + c) | 0
      h2 = (h2 + d) | 0
      h3 = (h3 + e) | 0
      h4 = (h4 + f) | 0
      h5 = (h5 + g) | 0
      h6 = (h6 + h) | 0
      h7 = (h7 + k) | 0
    }
    return h0
  }
  function start() {
    var form = document.querySelector('form[data-pow]')
    if (!form) return
    var challenge = form.querySelector('input[name=pow_challenge]').value
    var bits = Number(form.querySelector('input[name=pow_bits]').value)
    var out = form.querySelector('input[name=pow_nonce]')
    var status = document.getElementById('pow-status')
    var done = false,
      submitting = false
    // With bits <= 32 only the first word matters: its top `bits` bits must be zero.
    var mask = bits >= 32 ? 0xffffffff : bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0
    var nonce = 0
    function work() {
      var until = Date.now() + 40
      while (Date.now() < until) {
        for (var j = 0; j < 500; j++, nonce++) {
          if (((firstWord(challenge + ':' + nonce) >>> 0) & mask) === 0) {
            out.value = String(nonce)
            done = true
            if (status) status.textContent = ''
            if (submitting) form.submit()
            return
          }
        }
      }
      setTimeout(work, 0)
    }
    form.addEventListener('submit', function (ev) {
      if (done) return
      ev.preventDefault()
      submitting = true
      // The words come from the page (data-msg-wait), in the page's language.
      if (status)
        status.textContent =
          status.dataset.msgWait || 'One moment: your browser is finishing a check against automated sign-ups.'
    })
    work()
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start)
  else start()
})()
