// The bare library for bench/footprint.ts and bench/workers.ts: oidc-provider 9 with its default
// in-memory adapter, one client, an ES256 and an RS256 key, plain JavaScript (no transpiler at
// start, like portcullis's compiled dist/). `node bench/bare-provider.mjs PORT`.
import crypto from 'node:crypto'
import Provider from 'oidc-provider'

const port = Number(process.argv[2])
const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
const RESOURCE = 'https://api.bench.example'
const provider = new Provider(`http://127.0.0.1:${port}`, {
  jwks: {
    keys: [
      { ...ec.export({ format: 'jwk' }), kid: 'es', use: 'sig', alg: 'ES256' },
      { ...rsa.export({ format: 'jwk' }), kid: 'rs', use: 'sig', alg: 'RS256' },
    ],
  },
  clients: [
    {
      client_id: 'bench',
      client_secret: 'bench-secret-0123456789-abcdefghijklmnop',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: 'orders:read',
    },
  ],
  scopes: ['orders:read'],
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'orders:read',
        audience: RESOURCE,
        accessTokenTTL: 600,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
})
provider.listen(port, '127.0.0.1')
