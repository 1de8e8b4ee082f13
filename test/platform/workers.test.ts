import crypto from 'node:crypto'
import net from 'node:net'
import * as oidc from 'openid-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, pgTestUrl, redisTestUrl, type TestDatabase } from '../../src/db/testing.ts'
import { importFile, spawnPortcullis, type PortcullisProcess } from '../helpers/portcullis-process.ts'
import { runCli } from '../helpers/cli.ts'
import { signIn, UserAgent } from '../helpers/user-agent.ts'

/**
 * `portcullis serve --workers N` (issue 16 §2), as operators run it: the real CLI in its own
 * process, a primary and two workers sharing one port. Every request below goes out on a new
 * connection (`Connection: close`), so the primary's round-robin hands consecutive requests to
 * different workers; each worker's log lines carry its pid, and each request's X-Request-ID
 * says which worker answered it.
 */
const reason = !pgTestUrl() || !redisTestUrl() ? 'TEST_DATABASE_URL and TEST_REDIS_URL are not both set' : undefined
if (reason) console.warn(`test/platform/workers.test.ts (PostgreSQL + Redis part) skipped: ${reason}`)

const SECRET = 'workers-suite-secret-0123456789abcdef'
const REDIRECT = 'https://rp.example.com/cb'
const DOC = {
  clients: [
    {
      client_id: 'svc',
      client_secret: SECRET,
      grant_types: ['client_credentials'],
      response_types: [],
      scope: 'audit:read',
    },
    {
      client_id: 'web',
      client_secret: SECRET,
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      scope: 'openid',
    },
  ],
  users: [{ email: 'user@example.com', password: 'workers suite user password' }],
}
const basic = `Basic ${Buffer.from(`svc:${SECRET}`).toString('base64')}`

describe.skipIf(Boolean(reason))('serve --workers 2 on PostgreSQL + Redis', () => {
  let db: TestDatabase
  let server: PortcullisProcess
  let doc: ReturnType<typeof importFile>
  const realFetch = globalThis.fetch
  let seq = 0

  /** The pid of the worker that answered the request with this X-Request-ID. */
  const pidOf = (requestId: string) =>
    server.logs().find((l) => l.msg === 'request' && l.requestId === requestId)?.pid as number | undefined
  const workerPids = () =>
    new Set(
      server
        .logs()
        .filter((l) => l.msg === 'worker listening')
        .map((l) => l.pid as number),
    )

  beforeAll(async () => {
    db = await createTestDatabase('postgresql')
    doc = importFile(DOC)
    server = await spawnPortcullis(
      {
        DATABASE_URL: db.url,
        REDIS_URL: redisTestUrl()!,
        REDIS_PREFIX: `workers-${crypto.randomBytes(4).toString('hex')}:`,
        PORTCULLIS_IMPORT: doc.file,
        SHUTDOWN_TIMEOUT: '5',
      },
      { args: ['--workers', '2'] },
    )
    await server.waitForLog(/^portcullis workers listening$/, 150_000)
    // Every request to the server on its own connection, tagged with a request id.
    globalThis.fetch = (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input))
      if (url.origin !== server.url) return realFetch(input, init)
      const headers = new Headers(input instanceof Request ? input.headers : undefined)
      for (const [k, v] of new Headers(init?.headers)) headers.set(k, v)
      headers.set('connection', 'close')
      if (!headers.has('x-request-id')) headers.set('x-request-id', `auto-${++seq}`)
      return realFetch(input, { ...init, headers })
    }
  }, 200_000)

  afterAll(async () => {
    globalThis.fetch = realFetch
    await server?.stop()
    doc?.remove()
    await db?.drop()
  }, 60_000)

  async function post(path: string, body: Record<string, string>, requestId: string) {
    const res = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: {
        authorization: basic,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        'x-request-id': requestId,
      },
      body: new URLSearchParams(body),
    })
    return { status: res.status, json: (await res.json()) as Record<string, unknown> }
  }

  it('two worker processes, both answering requests', async () => {
    await expect.poll(() => workerPids().size, { timeout: 60_000, interval: 200 }).toBe(2)
    const pids = workerPids()
    expect(pids.has(server.child.pid!)).toBe(false)
    const ids = Array.from({ length: 6 }, (_, i) => `health-${i}`)
    for (const id of ids)
      expect((await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': id } })).status).toBe(200)
    await new Promise((r) => setTimeout(r, 500)) // the last log lines
    expect(new Set(ids.map(pidOf))).toEqual(pids)
  }, 60_000)

  it('a client-credentials token issued by one worker introspects as active on the other; a wrong secret is refused on both', async () => {
    const issued = await post('/token', { grant_type: 'client_credentials' }, 'issue-1')
    expect(issued.status).toBe(200)
    const token = issued.json.access_token as string
    const answeredBy = new Set<number>()
    for (let i = 0; i < 4; i++) {
      const r = await post('/token/introspection', { token }, `introspect-${i}`)
      expect(r.status).toBe(200)
      expect(r.json).toMatchObject({ active: true, client_id: 'svc' })
      await new Promise((res) => setTimeout(res, 200))
      answeredBy.add(pidOf(`introspect-${i}`)!)
    }
    const issuer = pidOf('issue-1')!
    expect(issuer).toBeTypeOf('number')
    expect([...answeredBy].some((p) => p !== issuer)).toBe(true)
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${server.url}/token/introspection`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from('svc:wrong-secret').toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token }),
      })
      expect(res.status).toBe(401)
    }
  }, 60_000)

  it('an openid-client authorization-code sign-in completes with its requests spread over both workers', async () => {
    const web = await oidc.discovery(new URL(server.url), 'web', SECRET, oidc.ClientSecretBasic(SECRET), {
      execute: [oidc.allowInsecureRequests],
    })
    const verifier = oidc.randomPKCECodeVerifier()
    const authUrl = oidc.buildAuthorizationUrl(web, {
      redirect_uri: REDIRECT,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    })
    const from = seq
    const { callback, failed } = await signIn(new UserAgent(server.url), authUrl, {
      email: 'user@example.com',
      password: 'workers suite user password',
    })
    expect(failed).toBeUndefined()
    const tokens = await oidc.authorizationCodeGrant(web, callback!, {
      pkceCodeVerifier: verifier,
      idTokenExpected: true,
    })
    expect(tokens.claims()?.sub).toBeTruthy()
    await new Promise((r) => setTimeout(r, 500))
    const pids = new Set(Array.from({ length: seq - from }, (_, i) => pidOf(`auto-${from + i + 1}`)))
    expect(pids).toEqual(workerPids())
    // a wrong password on another worker is still refused
    const again = await signIn(
      new UserAgent(server.url),
      oidc.buildAuthorizationUrl(web, {
        redirect_uri: REDIRECT,
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      }),
      { email: 'user@example.com', password: 'not the password' },
    )
    expect(again.failed).toBeTruthy()
  }, 120_000)

  it('a worker killed with SIGKILL is replaced (one JSON log line) and service continues', async () => {
    const [victim] = [...workerPids()]
    process.kill(victim!, 'SIGKILL')
    const line = await server.waitForLog(/worker exited unexpectedly; started a replacement/, 60_000)
    expect(line).toMatchObject({ level: 50, workerPid: victim, signal: 'SIGKILL' })
    // the replacement listens: three live worker announcements in total, two alive
    await expect.poll(() => workerPids().size, { timeout: 90_000, interval: 500 }).toBe(3)
    const alive = [...workerPids()].filter((p) => p !== victim)
    const ids = Array.from({ length: 6 }, (_, i) => `after-kill-${i}`)
    for (const id of ids) expect((await post('/token', { grant_type: 'client_credentials' }, id)).status).toBe(200)
    await new Promise((r) => setTimeout(r, 500))
    expect(new Set(ids.map(pidOf))).toEqual(new Set(alive))
  }, 120_000)

  it('SIGTERM to the primary: every process exits 0 and the port closes', async () => {
    const workers = [...workerPids()].filter((p) => isAlive(p))
    expect(workers).toHaveLength(2)
    server.child.kill('SIGTERM')
    expect(await server.exited).toEqual({ code: 0, signal: null })
    const stopped = server.logs().filter((l) => l.msg === 'worker stopped')
    expect(stopped.map((l) => l.exitCode)).toEqual([0, 0])
    for (const p of workers) expect(isAlive(p)).toBe(false)
    expect(await connects(server.port)).toBe(false)
  }, 60_000)
})

describe.skipIf(Boolean(reason))('serve --workers 2: workers that keep dying', () => {
  let db: TestDatabase
  let server: PortcullisProcess

  beforeAll(async () => {
    db = await createTestDatabase('postgresql')
    server = await spawnPortcullis(
      {
        DATABASE_URL: db.url,
        REDIS_URL: redisTestUrl()!,
        REDIS_PREFIX: `workers-${crypto.randomBytes(4).toString('hex')}:`,
      },
      { args: ['--workers', '2'] },
    )
    await server.waitForLog(/^portcullis workers listening$/, 150_000)
  }, 200_000)

  afterAll(async () => {
    await server?.stop()
    await db?.drop()
  }, 60_000)

  it('the primary restarts at most 5 within a minute, then stops the rest and exits 1 instead of looping', async () => {
    // a worker's own log line may reach us after the primary's (separate pipes): wait for it
    await server.waitForLog(/^worker listening$/, 60_000)
    const first = server.logs().find((l) => l.msg === 'worker listening')!.pid as number
    process.kill(first, 'SIGKILL')
    for (let i = 1; i <= 5; i++) {
      // kill each replacement as soon as it is forked
      await expect
        .poll(() => server.logs().filter((l) => l.msg === 'worker exited unexpectedly; started a replacement').length, {
          timeout: 60_000,
          interval: 50,
        })
        .toBe(i)
      const replaced = server.logs().filter((l) => l.msg === 'worker exited unexpectedly; started a replacement')
      process.kill(replaced.at(-1)!.replacementPid as number, 'SIGKILL')
    }
    const fatal = await server.waitForLog(/workers keep dying; stopping/, 60_000)
    expect(fatal).toMatchObject({ level: 60, restarts: 5, windowSeconds: 60 })
    expect(await server.exited).toEqual({ code: 1, signal: null })
    expect(await connects(server.port)).toBe(false)
  }, 180_000)
})

describe.skipIf(Boolean(reason))(
  'serve --workers 2: Ctrl-C (SIGINT to the whole process group, as a terminal sends it)',
  () => {
    let db: TestDatabase
    let server: PortcullisProcess

    beforeAll(async () => {
      db = await createTestDatabase('postgresql')
      server = await spawnPortcullis(
        {
          DATABASE_URL: db.url,
          REDIS_URL: redisTestUrl()!,
          REDIS_PREFIX: `workers-${crypto.randomBytes(4).toString('hex')}:`,
        },
        { args: ['--workers=2'] },
      )
      await server.waitForLog(/^portcullis workers listening$/, 150_000)
    }, 200_000)

    afterAll(async () => {
      await server?.stop()
      await db?.drop()
    }, 60_000)

    it("each worker gets both the signal and the primary's stop, drains once, and everything exits 0", async () => {
      await server.waitForStatus('/readyz', 200)
      process.kill(-server.child.pid!, 'SIGINT')
      expect(await server.exited).toEqual({ code: 0, signal: null })
      expect(
        server
          .logs()
          .filter((l) => l.msg === 'worker stopped')
          .map((l) => l.exitCode),
      ).toEqual([0, 0])
      expect(server.logs().filter((l) => l.msg === 'shutdown complete')).toHaveLength(2)
      expect(await connects(server.port)).toBe(false)
    }, 60_000)
  },
)

function isAlive(pid: number) {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function connects(port: number) {
  return new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

describe('serve --workers: configurations that cannot keep the guarantees are refused', () => {
  const base = { PORTCULLIS_MASTER_KEY: crypto.randomBytes(32).toString('base64'), LOG_LEVEL: 'info' }

  it('embedded SQLite: exit 2 with a message saying to run one worker, nothing created', async () => {
    const { mkdtempSync, readdirSync, rmSync } = await import('node:fs')
    const { tmpdir } = await import('node:os')
    const dir = mkdtempSync(`${tmpdir()}/portcullis-workers-`)
    try {
      const r = await runCli(['serve', '--workers', '2'], { ...base, DATA_DIR: dir })
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(/--workers 2 needs PostgreSQL and Redis.*with embedded SQLite, run one worker/)
      expect(readdirSync(dir)).toEqual([]) // refused before any migration
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)

  it('PostgreSQL without REDIS_URL: exit 2 with "needs REDIS_URL" (lockout counters would be per worker)', async () => {
    // never connects: refused before the database is touched
    const r = await runCli(['serve', '--workers', '2'], {
      ...base,
      DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/none',
      WORKERS: '1',
    })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/--workers 2 needs REDIS_URL: without Redis, sign-in lockout counters/)
  }, 60_000)

  it('hostile --workers and WORKERS values: a clear usage error, exit 2', async () => {
    for (const bad of ['0', '-1', 'many', '1e3', '1000', '2; rm -rf /', '']) {
      const r = await runCli(['serve', `--workers=${bad}`], {
        ...base,
        DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/none',
      })
      expect(r.code).toBe(2)
      expect(r.stderr).toContain('--workers must be a number of workers (1-999) or auto')
    }
    const env = await runCli(['serve'], {
      ...base,
      DATABASE_URL: 'postgresql://nobody@127.0.0.1:1/none',
      WORKERS: 'lots',
    })
    expect(env.code).toBe(2)
    expect(env.stderr).toContain('WORKERS: must be a number of workers (1-999) or auto')
  }, 120_000)
})
