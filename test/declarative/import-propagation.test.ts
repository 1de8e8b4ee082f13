import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import * as jose from 'jose'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeOnBackends } from '../helpers/backends.ts'
import { runCli } from '../helpers/cli.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

/**
 * Issue 10 §3: what `portcullis import` changes (clients, resources, scopes) works on every
 * running instance within a second or so — the README quick start (`npx portcullis import`
 * then `curl /token`) must succeed on its first try. The import runs as users run it: the real
 * CLI in its own process, against the database (and Redis) of two running servers.
 */
const API = 'https://api.example.com'
const LEDGER = 'https://ledger.example.com'
const BOUND_MS = 5000 // generous on a loaded machine; the poll this replaces took 30 s

describeOnBackends(import.meta.filename, 'import changes reach running servers at once', (backend) => {
  let first: TestServer
  let second: TestServer
  let dir: string
  beforeAll(async () => {
    first = await startTestServer({ kind: backend.kind, redisUrl: backend.redisUrl })
    second = await startTestServer({
      kind: backend.kind,
      redisUrl: backend.redisUrl,
      db: first.db,
      masterKey: first.config.PORTCULLIS_MASTER_KEY,
      env: backend.redisUrl ? { REDIS_PREFIX: first.config.REDIS_PREFIX } : {},
    })
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pc-import-'))
  })
  afterAll(async () => {
    await second?.close()
    await first?.close()
    await fs.rm(dir, { recursive: true, force: true })
  })

  async function importFile(name: string, yaml: string) {
    const file = path.join(dir, name)
    await fs.writeFile(file, yaml)
    const env: Record<string, string> = {
      DATABASE_URL: first.db.url,
      PORTCULLIS_MASTER_KEY: first.config.PORTCULLIS_MASTER_KEY!,
      PUBLIC_URL: first.url,
      DATA_DIR: dir,
      LOG_LEVEL: 'warn',
      ...(backend.redisUrl ? { REDIS_URL: backend.redisUrl, REDIS_PREFIX: first.config.REDIS_PREFIX } : {}),
    }
    const r = await runCli(['import', file], env)
    expect(r.code, r.stderr).toBe(0)
  }

  async function token(server: TestServer, client: string, form: Record<string, string>) {
    const res = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${client}:${client}-secret-0123456789abcdef`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', ...form }),
    })
    return {
      status: res.status,
      body: (await res.json()) as { access_token?: string; error?: string; error_description?: string },
    }
  }

  /** Polls until the token request succeeds (at most BOUND_MS); returns the last answer. */
  async function tokenSoon(server: TestServer, client: string, form: Record<string, string>) {
    const until = Date.now() + BOUND_MS
    let last = await token(server, client, form)
    while (last.status !== 200 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50))
      last = await token(server, client, form)
    }
    return last
  }

  it('a new client, resource and scope work on both instances right after the import', async () => {
    // the servers are up and have answered before the import (nothing cached from start-up only)
    expect((await token(first, 'billing', { scope: 'orders:read', resource: API })).status).toBe(401)
    await importFile(
      'one.yaml',
      `
resources:
  - indicator: ${API}
    scopes: [orders:read, orders:write]
    access_token_format: jwt
    access_token_ttl: 600
clients:
  - client_id: billing
    client_secret: billing-secret-0123456789abcdef
    grant_types: [client_credentials]
    response_types: []
    scope: orders:read
`,
    )
    for (const server of [first, second]) {
      const r = await tokenSoon(server, 'billing', { scope: 'orders:read', resource: API })
      expect(r.status, JSON.stringify(r.body)).toBe(200)
      expect(jose.decodeJwt(r.body.access_token!)).toMatchObject({
        aud: API,
        scope: 'orders:read',
        client_id: 'billing',
      })
    }
  })

  it('a scope added to a client and a new resource with a new scope work after a second import', async () => {
    await importFile(
      'two.yaml',
      `
resources:
  - indicator: ${API}
    scopes: [orders:read, orders:write]
    access_token_format: jwt
  - indicator: ${LEDGER}
    scopes: [ledger:read]
    access_token_format: jwt
clients:
  - client_id: billing
    client_secret: billing-secret-0123456789abcdef
    grant_types: [client_credentials]
    response_types: []
    scope: orders:read orders:write ledger:read
  - client_id: ledger
    client_secret: ledger-secret-0123456789abcdef
    grant_types: [client_credentials]
    response_types: []
    scope: ledger:read
`,
    )
    for (const server of [second, first]) {
      const write = await tokenSoon(server, 'billing', { scope: 'orders:write', resource: API })
      expect(write.status, JSON.stringify(write.body)).toBe(200)
      const ledger = await tokenSoon(server, 'ledger', { scope: 'ledger:read', resource: LEDGER })
      expect(ledger.status, JSON.stringify(ledger.body)).toBe(200)
      expect(jose.decodeJwt(ledger.body.access_token!)).toMatchObject({ aud: LEDGER, scope: 'ledger:read' })
    }
  })

  it('a scope taken away from a client by an import is refused at once', async () => {
    await importFile(
      'three.yaml',
      `
clients:
  - client_id: billing
    client_secret: billing-secret-0123456789abcdef
    grant_types: [client_credentials]
    response_types: []
    scope: orders:read
`,
    )
    for (const server of [first, second]) {
      const until = Date.now() + BOUND_MS
      let r = await token(server, 'billing', { scope: 'orders:write', resource: API })
      while (r.status === 200 && Date.now() < until)
        r = await token(server, 'billing', { scope: 'orders:write', resource: API })
      expect(r.status).toBe(400)
      expect(r.body.error).toBe('invalid_scope')
    }
  })
})
