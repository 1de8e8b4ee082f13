import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { hash as argon2Hash } from '@node-rs/argon2'
import bcrypt from 'bcryptjs'
import YAML from 'yaml'
import * as oidc from 'openid-client'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { importFile, type Problem } from '../../src/declarative/apply.ts'
import { AppError } from '../../src/errors.ts'
import { describeOnBackends } from '../helpers/backends.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { signIn, UserAgent } from '../helpers/user-agent.ts'

/**
 * Issue 14 §8, moving users in: the import file takes password hashes written by other systems
 * (bcrypt, PBKDF2 in PHC/passlib/Django/Werkzeug notation, scrypt, argon2 with any parameters);
 * the user signs in through the sign-in page with their old password, the hash is replaced by
 * our argon2id and the replacement is audited. Users without a password are refused exactly
 * like a wrong password.
 */

const CALLBACK = 'https://app.example.com/cb'
const PASSWORD = 'the password from the old system'
const OURS = /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/
const REFUSAL = 'Email or password is incorrect.'

const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '')
const ab64 = (b: Buffer) => b64(b).replace(/\+/g, '.')

/** One hash per notation, each written with the library that system uses (or its documented example). */
async function legacyHashes(): Promise<{ email: string; password: string; hash: string; format: string }[]> {
  const salt = crypto.randomBytes(16)
  const textSalt = 'Xq3vB9kLm2Pz7TwR'
  const bc = bcrypt.hashSync(PASSWORD, 4)
  const list: [string, string, string?][] = [
    ['bcrypt', bc.replace(/^\$2b\$/, '$2a$')],
    ['bcrypt', bc],
    ['bcrypt', bc.replace(/^\$2b\$/, '$2y$')],
    [
      'pbkdf2-sha256',
      `$pbkdf2-sha256$i=100000$${b64(salt)}$${b64(crypto.pbkdf2Sync(PASSWORD, salt, 100000, 32, 'sha256'))}`,
    ],
    // passlib's documented example (https://passlib.readthedocs.io): pbkdf2_sha256.hash("toomanysecrets")
    [
      'pbkdf2-sha256',
      '$pbkdf2-sha256$29000$N2YMIWQsBWBMae09x1jrPQ$1t8iyB2A.WF/Z5JZv.lfCIhXXN33N23OSgQYThBYRfk',
      'toomanysecrets',
    ],
    [
      'pbkdf2-sha512',
      `$pbkdf2-sha512$25000$${ab64(salt)}$${ab64(crypto.pbkdf2Sync(PASSWORD, salt, 25000, 64, 'sha512'))}`,
    ],
    [
      'django-pbkdf2_sha256',
      `pbkdf2_sha256$100000$${textSalt}$${crypto.pbkdf2Sync(PASSWORD, textSalt, 100000, 32, 'sha256').toString('base64')}`,
    ],
    [
      'werkzeug-pbkdf2-sha256',
      `pbkdf2:sha256:100000$${textSalt}$${crypto.pbkdf2Sync(PASSWORD, textSalt, 100000, 32, 'sha256').toString('hex')}`,
    ],
    [
      'scrypt',
      `$scrypt$ln=14,r=8,p=1$${ab64(salt)}$${ab64(crypto.scryptSync(PASSWORD, salt, 32, { N: 2 ** 14, r: 8, p: 1 }))}`,
    ],
    [
      'werkzeug-scrypt',
      `scrypt:32768:8:1$${textSalt}$${crypto.scryptSync(PASSWORD, textSalt, 64, { N: 32768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }).toString('hex')}`,
    ],
    ['argon2i', await argon2Hash(PASSWORD, { algorithm: 1, memoryCost: 8192, timeCost: 3, parallelism: 1 })],
    ['argon2d', await argon2Hash(PASSWORD, { algorithm: 0, memoryCost: 8192, timeCost: 2, parallelism: 2 })],
    ['argon2id', await argon2Hash(PASSWORD, { algorithm: 2, memoryCost: 65536, timeCost: 3, parallelism: 4 })],
    [
      'django-argon2',
      `argon2${await argon2Hash(PASSWORD, { algorithm: 2, memoryCost: 102400, timeCost: 2, parallelism: 8 })}`,
    ],
    [
      'django-bcrypt_sha256',
      `bcrypt_sha256$${bcrypt.hashSync(crypto.createHash('sha256').update(PASSWORD).digest('hex'), 4)}`,
    ],
  ]
  return list.map(([format, hash, password], i) => ({
    email: `mover${i}@example.com`,
    password: password ?? PASSWORD,
    hash,
    format,
  }))
}

describeOnBackends(
  'import-password-hashes.test.ts',
  'moving users in with their password hashes',
  ({ kind, redisUrl }) => {
    let server: TestServer
    let dir: string
    let authUrl: () => Promise<URL>
    const write = async (name: string, doc: unknown) => {
      const file = path.join(dir, name)
      await fs.writeFile(file, YAML.stringify(doc))
      return file
    }
    const web = {
      client_id: 'web',
      client_secret: 'web-secret-0123456789abcdef',
      redirect_uris: [CALLBACK],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      scope: 'openid',
    }

    beforeAll(async () => {
      server = await startTestServer({ kind, redisUrl })
      dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pc-import-hashes-'))
      await importFile(server.container, await write('web.yaml', { clients: [web] }))
      const config = await oidc.discovery(
        new URL(server.url),
        'web',
        web.client_secret,
        oidc.ClientSecretBasic(web.client_secret),
        { execute: [oidc.allowInsecureRequests] },
      )
      authUrl = async () =>
        oidc.buildAuthorizationUrl(config, {
          redirect_uri: CALLBACK,
          scope: 'openid',
          prompt: 'login',
          code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
          code_challenge_method: 'S256',
        })
    })
    afterAll(async () => {
      await server?.close()
      if (dir) await fs.rm(dir, { recursive: true, force: true })
    })

    it('each format signs in with the old password over the sign-in page, is then stored as our argon2id, and the rehash is audited with the old format only', async () => {
      const c = server.container
      const movers = await legacyHashes()
      const file = await write('movers.yaml', {
        users: movers.map(({ email, hash }) => ({ email, password_hash: hash })),
      })
      await importFile(c, file)
      for (const m of movers) {
        // A wrong password is the ordinary refusal, and leaves the imported hash alone.
        const wrong = await signIn(new UserAgent(server.url), await authUrl(), {
          email: m.email,
          password: m.password + '!',
        })
        expect(wrong.failed, m.format).toContain(REFUSAL)
        expect((await c.users.findByEmail(m.email))!.passwordHash, m.format).toBe(m.hash)

        const ok = await signIn(new UserAgent(server.url), await authUrl(), { email: m.email, password: m.password })
        expect(ok.callback?.searchParams.get('code'), m.format).toBeTruthy()
        const user = (await c.users.findByEmail(m.email))!
        expect(user.passwordHash, m.format).toMatch(OURS)
        const events = await c.audit.list({ action: 'user.password_rehashed', actor: user.id })
        expect(events, m.format).toEqual([
          expect.objectContaining({ outcome: 'success', target: user.id, details: { from: m.format, to: 'argon2id' } }),
        ])
        expect(JSON.stringify(events)).not.toContain(m.hash.slice(-20))

        // The next sign-in uses the new hash; nothing more to rehash, so no second event.
        expect(
          (await signIn(new UserAgent(server.url), await authUrl(), { email: m.email, password: m.password })).callback,
          m.format,
        ).toBeTruthy()
        expect(await c.audit.list({ action: 'user.password_rehashed', actor: user.id }), m.format).toHaveLength(1)
      }
      // Importing the same file again does not bring the old hashes back (they are initial values).
      await importFile(c, file)
      for (const m of movers) expect((await c.users.findByEmail(m.email))!.passwordHash).toMatch(OURS)
      // 15 sign-ins, each paying its format's own work (bcrypt, scrypt, PBKDF2) plus argon2id: slow on a
      // loaded 2-core machine
    }, 180_000)

    it('a user imported without a password is refused exactly like a wrong password (no enumeration)', async () => {
      const c = server.container
      await importFile(
        c,
        await write('nopw.yaml', {
          users: [
            { email: 'invited@example.com', name: 'Invited' },
            { email: 'known@example.com', password_hash: bcrypt.hashSync(PASSWORD, 4) },
          ],
        }),
      )
      expect((await c.users.findByEmail('invited@example.com'))!.passwordHash).toBeNull()
      const ua = () => new UserAgent(server.url)
      const noPassword = await signIn(ua(), await authUrl(), { email: 'invited@example.com', password: PASSWORD })
      const wrongPassword = await signIn(ua(), await authUrl(), {
        email: 'known@example.com',
        password: 'not it at all',
      })
      const unknown = await signIn(ua(), await authUrl(), { email: 'nobody@example.com', password: PASSWORD })
      const page = (r: { failed?: string }, email: string) =>
        r
          .failed!.replaceAll(email, 'EMAIL')
          .replace(/(value|data-csrf)="[^"]{20,}"/g, '$1="X"')
          .replace(/\/[A-Za-z0-9_-]{20,}\//g, '/UID/')
          .replace(/interaction=[A-Za-z0-9_-]{20,}/g, 'interaction=UID')
      expect(noPassword.failed).toContain(REFUSAL)
      expect(page(noPassword, 'invited@example.com')).toBe(page(wrongPassword, 'known@example.com'))
      expect(page(noPassword, 'invited@example.com')).toBe(page(unknown, 'nobody@example.com'))
      // An empty password is refused too, before any lookup.
      expect((await c.users.login('invited@example.com', '')).ok).toBe(false)
    })

    it('malformed hashes, unknown formats and over-limit parameters are import errors listed with their path; nothing is applied', async () => {
      const c = server.container
      const s = b64(crypto.randomBytes(16))
      const dk = b64(crypto.randomBytes(32))
      const users = [
        { email: 'fine@example.com', password_hash: bcrypt.hashSync(PASSWORD, 4) },
        { email: 'md5@example.com', password_hash: '5f4dcc3b5aa765d61d8327deb882cf99' },
        { email: 'short@example.com', password_hash: '$2b$10$tooshort' },
        { email: 'costly@example.com', password_hash: `$2b$20$${'a'.repeat(53)}` },
        { email: 'spin@example.com', password_hash: `$pbkdf2-sha256$i=50000000$${s}$${dk}` },
        { email: 'hog@example.com', password_hash: `$scrypt$ln=22,r=8,p=1$${s}$${dk}` },
        { email: 'werk@example.com', password_hash: `pbkdf2:sha256$salt$${'ab'.repeat(32)}` },
        { email: 'big@example.com', password_hash: `$argon2id$v=19$m=4194304,t=3,p=1$${s}$${dk}` },
      ]
      const err = await importFile(c, await write('bad.yaml', { users })).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(AppError)
      const problems = (err as AppError).details as Problem[]
      expect(problems).toEqual(
        expect.arrayContaining([
          {
            path: 'users.1.password_hash',
            message: expect.stringMatching(
              /not a password hash in an accepted format: .*bcrypt.*PBKDF2.*Django.*Werkzeug.*scrypt/,
            ),
          },
          { path: 'users.2.password_hash', message: expect.stringMatching(/^malformed: /) },
          { path: 'users.3.password_hash', message: expect.stringMatching(/^over the work limit: bcrypt cost/) },
          { path: 'users.4.password_hash', message: expect.stringMatching(/^over the work limit: PBKDF2 iterations/) },
          { path: 'users.5.password_hash', message: expect.stringMatching(/^over the work limit: scrypt/) },
          { path: 'users.6.password_hash', message: expect.stringMatching(/iteration count is required/) },
          { path: 'users.7.password_hash', message: expect.stringMatching(/^over the work limit: argon2 memory/) },
        ]),
      )
      expect(problems.map((p) => p.path)).not.toContain('users.0.password_hash')
      for (const u of users) expect(await c.users.findByEmail(u.email), u.email).toBeNull()
    })
  },
)
