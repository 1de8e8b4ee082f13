/**
 * Calls a portcullis API with a signed request (RFC 9421), as a HIGH or CRITICAL API key needs.
 *
 *   PORTCULLIS_URL=http://localhost:3000 PORTCULLIS_API_KEY=pcs_... \
 *   PORTCULLIS_SIGNING_SECRET=... node --import tsx examples/sign-request.ts
 *
 * (For an Ed25519 key set PORTCULLIS_SIGNING_KEY_FILE=private.pem instead of the secret.)
 * It lists the caller's own keys: GET /apikeys/v1/keys (scope apikeys:manage).
 */
import fs from 'node:fs'
import { fetchWithKey, type SigningMaterial } from '../src/apikeys/client.ts'

const base = process.env.PORTCULLIS_URL ?? 'http://localhost:3000'
const key = process.env.PORTCULLIS_API_KEY
if (!key) throw new Error('set PORTCULLIS_API_KEY')
const signing: SigningMaterial | undefined = process.env.PORTCULLIS_SIGNING_SECRET
  ? { alg: 'hmac-sha256', secret: process.env.PORTCULLIS_SIGNING_SECRET }
  : process.env.PORTCULLIS_SIGNING_KEY_FILE
    ? { alg: 'ed25519', privateKey: fs.readFileSync(process.env.PORTCULLIS_SIGNING_KEY_FILE, 'utf8') }
    : undefined

const res = await fetchWithKey(key, `${base}/apikeys/v1/keys`, { signing })
console.log(res.status, JSON.stringify(await res.json(), null, 2))
