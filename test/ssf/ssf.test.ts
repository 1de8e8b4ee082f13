import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import * as jose from 'jose'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeOnBackends } from '../helpers/backends.ts'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import { adminServices, ensureSystemPolicyStore } from '../../src/admin/service.ts'
import { generate } from 'otplib'
import { ensureAdmin } from '../../src/bootstrap.ts'
import { apiToken, call, registerServiceClients } from '../helpers/api-client.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

/**
 * OpenID Shared Signals Framework 1.0 transmitter with real parties: receivers (service clients
 * with client-credentials tokens) manage their streams, a push receiver written here accepts
 * SETs over HTTP (RFC 8935) and a poll receiver fetches them (RFC 8936); both validate every SET
 * against our JWKS with jose, and refuse a replayed or forged one.
 */
const RISC = 'https://schemas.openid.net/secevent/risc/event-type'
const CAEP = 'https://schemas.openid.net/secevent/caep/event-type'
const VERIFICATION = 'https://schemas.openid.net/secevent/ssf/event-type/verification'

let server: TestServer
let jwks: ReturnType<typeof jose.createRemoteJWKSet>
let pushToken: string
let pollToken: string
let userId: string
let receiver: Server
let receiverUrl: string
const pushed: string[] = []
/** answers 503 to this many pushes first (the outbox retries with backoff) */
let failNext = 0

/** The receiver's validation (SSF 1.0 §4, RFC 8417 §2): signature, iss, aud, typ, and jti not seen before. */
function validator(audience: string) {
  const seen = new Set<string>()
  return async (set: string) => {
    const { payload } = await jose.jwtVerify(set, jwks, { issuer: server.url, audience, typ: 'secevent+jwt' })
    if (seen.has(payload.jti!)) throw new Error('replayed SET')
    seen.add(payload.jti!)
    return payload as jose.JWTPayload & {
      sub_id: Record<string, string>
      events: Record<string, Record<string, unknown>>
    }
  }
}

async function until<T>(f: () => Promise<T | undefined> | T | undefined): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = await f()
    if (v !== undefined) return v
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error('timed out')
}

describeOnBackends('ssf.test.ts', 'Shared Signals transmitter', ({ kind, redisUrl }) => {
  beforeAll(async () => {
    pushed.length = 0
    server = await startTestServer({ kind, redisUrl, env: { PORTCULLIS_ADMIN_PASSWORD: 'bootstrap pass phrase 42' } })
    await ensureAdmin(server.container)
    jwks = jose.createRemoteJWKSet(new URL(`${server.url}/jwks`))
    await registerServiceClients(server, [
      { id: 'rp-push', scope: 'ssf:stream' },
      { id: 'rp-poll', scope: 'ssf:stream' },
      { id: 'nosy', scope: 'audit:read' },
      { id: 'rp-al', scope: 'ssf:stream' },
      { id: 'rp-tx', scope: 'ssf:stream' },
      { id: 'rp-su', scope: 'ssf:stream' },
      { id: 'root', scope: 'admin' },
    ])
    await ensureSystemPolicyStore(server.container)
    await adminServices(server.container).authority.grant({ kind: 'cli' }, { type: 'client', id: 'root' }, 'admin')
    const { doc, problems } = await validateDocument(server.container, {
      users: [
        { email: 'dana@example.com', password: 'quiet river lamp orbit', name: 'Dana' },
        { email: 'erin@example.com', password: 'quiet river lamp orbit', name: 'Erin' },
        { email: 'fay@example.com', password: 'quiet river lamp orbit', name: 'Fay' },
      ],
    })
    expect(problems).toEqual([])
    await applyDocument(server.container, doc!)
    userId = (await server.container.users.findByEmail('dana@example.com'))!.id
    pushToken = await apiToken(server, 'rp-push', 'ssf:stream')
    pollToken = await apiToken(server, 'rp-poll', 'ssf:stream')
    receiver = createServer((req, res) => {
      let body = ''
      req.on('data', (c: Buffer) => {
        body += c.toString()
      })
      req.on('end', () => {
        if (
          req.headers['content-type'] !== 'application/secevent+jwt' ||
          req.headers.authorization !== 'Bearer receiver-secret'
        ) {
          res.writeHead(400).end()
          return
        }
        if (failNext > 0) {
          failNext--
          res.writeHead(503).end()
          return
        }
        pushed.push(body)
        res.writeHead(202).end()
      })
    })
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r))
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`
  })
  afterAll(async () => {
    await server?.close()
    receiver?.close()
  })

  it('publishes transmitter configuration metadata', async () => {
    const r = await call(server, 'GET', '/.well-known/ssf-configuration')
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({
      issuer: server.url,
      jwks_uri: `${server.url}/jwks`,
      configuration_endpoint: `${server.url}/ssf/v1/stream`,
      delivery_methods_supported: ['urn:ietf:rfc:8935', 'urn:ietf:rfc:8936'],
      default_subjects: 'NONE',
    })
  })

  it('refuses stream management without a token, with the wrong scope, and hostile input', async () => {
    expect((await call(server, 'POST', '/ssf/v1/stream', undefined, {})).status).toBe(401)
    const nosy = await apiToken(server, 'nosy', 'audit:read')
    expect((await call(server, 'POST', '/ssf/v1/stream', nosy, {})).status).toBe(403)
    expect((await call(server, 'GET', '/ssf/v1/stream', nosy)).status).toBe(403)
    for (const bad of [
      { delivery: { method: 'urn:ietf:rfc:8935' } },
      { delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: 'javascript:alert(1)' } },
      { description: 'a\u0000b' },
      { events_requested: 'all' },
      { surprise: true },
    ]) {
      const r = await call(server, 'POST', '/ssf/v1/stream', pushToken, bad)
      expect(r.status, JSON.stringify(bad)).toBe(400)
    }
    expect((await call(server, 'POST', '/ssf/v1/stream', pushToken, '{not json')).status).toBe(400)
  })

  it('push: a stream, a subject, the user disabled → a RISC account-disabled SET the receiver validates', async () => {
    const created = await call(server, 'POST', '/ssf/v1/stream', pushToken, {
      delivery: {
        method: 'urn:ietf:rfc:8935',
        endpoint_url: receiverUrl,
        authorization_header: 'Bearer receiver-secret',
      },
      events_requested: [`${RISC}/account-disabled`, `${RISC}/account-enabled`, 'urn:example:unknown'],
    })
    expect(created.status).toBe(201)
    expect(created.body.events_delivered).toEqual([`${RISC}/account-disabled`, `${RISC}/account-enabled`])
    expect(created.body.delivery).not.toHaveProperty('authorization_header')
    const id = created.body.stream_id as string
    // the receiver's credential is stored sealed, never in clear
    expect((await server.container.db.ssfStream.findUnique({ where: { id } }))!.config).not.toContain('receiver-secret')
    expect((await call(server, 'POST', '/ssf/v1/stream', pushToken, {})).status).toBe(409)
    expect((await call(server, 'GET', `/ssf/v1/stream?stream_id=${id}`, pushToken)).body.stream_id).toBe(id)
    // another receiver cannot see or change this stream
    expect((await call(server, 'GET', `/ssf/v1/status?stream_id=${id}`, pollToken)).status).toBe(404)

    expect(
      (
        await call(server, 'POST', '/ssf/v1/subjects/add', pushToken, {
          stream_id: id,
          subject: { format: 'email', email: 'dana@example.com' },
        })
      ).status,
    ).toBe(200)
    expect(
      (
        await call(server, 'POST', '/ssf/v1/subjects/add', pushToken, {
          stream_id: id,
          subject: { format: 'phone_number', phone_number: '+1' },
        })
      ).status,
    ).toBe(400)

    const validate = validator('rp-push')
    await server.container.accounts.disable('dana@example.com', 'admin:test')
    const set = await until(() => pushed[0])
    const claims = await validate(set)
    expect(claims.sub_id).toEqual({ format: 'iss_sub', iss: server.url, sub: userId })
    expect(Object.keys(claims.events)).toEqual([`${RISC}/account-disabled`])
    expect(jose.decodeProtectedHeader(set).typ).toBe('secevent+jwt')

    // replayed SET: the same jti again is refused; a forged one fails the signature
    await expect(validate(set)).rejects.toThrow(/replayed/)
    const [h, p] = set.split('.')
    const forgedPayload = Buffer.from(
      JSON.stringify({ ...claims, sub_id: { format: 'opaque', id: 'someone-else' } }),
    ).toString('base64url')
    await expect(validate(`${h}.${forgedPayload}.${set.split('.')[2]}`)).rejects.toThrow()
    const { privateKey } = await jose.generateKeyPair('RS256')
    const selfSigned = await new jose.SignJWT({ events: claims.events })
      .setProtectedHeader({ alg: 'RS256', typ: 'secevent+jwt', kid: jose.decodeProtectedHeader(set).kid })
      .setIssuer(server.url)
      .setAudience('rp-push')
      .setJti('x')
      .setIssuedAt()
      .sign(privateKey)
    await expect(validate(selfSigned)).rejects.toThrow()
    expect(p).toBeTruthy()

    // paused: nothing queued; verification works only when enabled
    expect(
      (await call(server, 'POST', '/ssf/v1/status', pushToken, { stream_id: id, status: 'paused' })).body,
    ).toMatchObject({ status: 'paused' })
    expect((await call(server, 'POST', '/ssf/v1/verify', pushToken, { stream_id: id })).status).toBe(400)
    await server.container.accounts.enable('dana@example.com', 'admin:test')
    expect((await call(server, 'POST', '/ssf/v1/status', pushToken, { stream_id: id, status: 'enabled' })).status).toBe(
      200,
    )
    expect((await call(server, 'POST', '/ssf/v1/verify', pushToken, { stream_id: id, state: 'abc' })).status).toBe(204)
    const verification = await validate(await until(() => pushed[1]))
    expect(verification.events[VERIFICATION]).toEqual({ state: 'abc' })
    expect(pushed).toHaveLength(2)

    expect((await call(server, 'DELETE', `/ssf/v1/stream?stream_id=${id}`, pushToken)).status).toBe(204)
    expect((await call(server, 'GET', `/ssf/v1/stream?stream_id=${id}`, pushToken)).status).toBe(404)
  })

  it('poll: the SET waits until the receiver acknowledges it', async () => {
    const created = await call(server, 'POST', '/ssf/v1/stream', pollToken, {
      delivery: { method: 'urn:ietf:rfc:8936' },
      events_requested: [`${RISC}/account-disabled`],
    })
    expect(created.status).toBe(201)
    const id = created.body.stream_id as string
    expect(created.body.delivery).toEqual({
      method: 'urn:ietf:rfc:8936',
      endpoint_url: `${server.url}/ssf/v1/poll/${id}`,
    })
    await call(server, 'POST', '/ssf/v1/subjects/add', pollToken, {
      stream_id: id,
      subject: { format: 'iss_sub', iss: server.url, sub: userId },
    })
    await server.container.accounts.disable('dana@example.com', 'admin:test')

    const validate = validator('rp-poll')
    const poll = (body: unknown, token = pollToken) => call(server, 'POST', `/ssf/v1/poll/${id}`, token, body)
    const sets = await until(async () => {
      const r = await poll({ returnImmediately: true })
      return Object.keys(r.body.sets ?? {}).length ? (r.body.sets as Record<string, string>) : undefined
    })
    const [jti, set] = Object.entries(sets)[0]!
    const claims = await validate(set)
    expect(claims.jti).toBe(jti)
    expect(Object.keys(claims.events)).toEqual([`${RISC}/account-disabled`])
    // not acknowledged: delivered again; acknowledged: gone
    expect(Object.keys((await poll({ returnImmediately: true })).body.sets)).toEqual([jti])
    expect((await poll({ ack: [jti], returnImmediately: true })).body).toEqual({ sets: {}, moreAvailable: false })

    expect((await poll({ maxEvents: -1 })).status).toBe(400)
    expect((await poll({ ack: 'all' })).status).toBe(400)
    expect((await poll({}, pushToken)).status).toBe(404)
    expect((await call(server, 'POST', `/ssf/v1/poll/${id}`, undefined, {})).status).toBe(401)
  })

  it('CAEP session-revoked and RISC credential-change-required from the admin API, pushed again after the receiver failed', async () => {
    const token = await apiToken(server, 'rp-push', 'ssf:stream')
    const created = await call(server, 'POST', '/ssf/v1/stream', token, {
      delivery: {
        method: 'urn:ietf:rfc:8935',
        endpoint_url: receiverUrl,
        authorization_header: 'Bearer receiver-secret',
      },
      events_requested: [`${CAEP}/session-revoked`, `${RISC}/account-credential-change-required`],
    })
    expect(created.status).toBe(201)
    await call(server, 'POST', '/ssf/v1/subjects/add', token, {
      stream_id: created.body.stream_id,
      subject: { format: 'opaque', id: userId },
    })
    const validate = validator('rp-push')
    const before = pushed.length
    failNext = 1
    const admin = adminServices(server.container)
    await admin.users.resetPassword({ kind: 'cli' }, userId)
    const first = await validate(await until(() => pushed[before]))
    expect(Object.keys(first.events)).toEqual([`${RISC}/account-credential-change-required`])
    await admin.users.revokeSessions({ kind: 'cli' }, userId, 'all')
    const second = await validate(await until(() => pushed[before + 1]))
    expect(first.jti).not.toBe(second.jti)
    expect(second.events[`${CAEP}/session-revoked`]).toMatchObject({ event_timestamp: expect.any(Number) })
    expect(failNext).toBe(0)
  })

  /** A poll stream for `client` with `events`, and `email` added as its subject. */
  async function pollStream(client: string, events: string[], email: string) {
    const token = await apiToken(server, client, 'ssf:stream')
    const created = await call(server, 'POST', '/ssf/v1/stream', token, {
      delivery: { method: 'urn:ietf:rfc:8936' },
      events_requested: events,
    })
    expect(created.status).toBe(201)
    const id = created.body.stream_id as string
    expect(
      (
        await call(server, 'POST', '/ssf/v1/subjects/add', token, {
          stream_id: id,
          subject: { format: 'email', email },
        })
      ).status,
    ).toBe(200)
    const poll = (body: unknown, headers: Record<string, string> = {}) =>
      call(server, 'POST', `/ssf/v1/poll/${id}`, token, body, headers)
    return { id, token, poll }
  }

  it('CAEP assurance-level-change: the first factor raises the level to mfa, removing the last lowers it; a long poll wakes at once', async () => {
    const user = (await server.container.users.findByEmail('erin@example.com'))!
    const { poll } = await pollStream(
      'rp-al',
      [`${CAEP}/assurance-level-change`, `${CAEP}/credential-change`],
      user.email,
    )
    const validate = validator('rp-al')
    // nothing waiting: a long poll the client bounds with Prefer: wait=1 (RFC 7240) answers empty
    expect((await poll({}, { prefer: 'wait=1' })).body).toEqual({ sets: {}, moreAvailable: false })

    const mfa = server.container.login.mfa
    const enrol = async () => {
      const { secret } = await mfa.startTotp(user.email)
      return (await mfa.confirmTotp(
        user.id,
        secret,
        await generate({ secret, epoch: Math.floor(Date.now() / 1000) }),
        'phone',
        server.container.audit.with((f) => ({
          action: 'mfa.enrolled',
          outcome: 'success',
          actor: user.id,
          target: user.id,
          details: { type: 'totp', factor: f.id },
        })),
      ))!
    }
    /** the events of every SET waiting, validated, then acknowledged */
    const drain = async (body: Record<string, unknown> = { returnImmediately: true }) => {
      const r = await poll(body)
      expect(r.status).toBe(200)
      const sets = r.body.sets as Record<string, string>
      const events = []
      for (const set of Object.values(sets)) events.push((await validate(set)).events)
      await poll({ ack: Object.keys(sets), returnImmediately: true })
      return events
    }
    // a long poll waiting when the factor is enrolled answers with the SETs of that change
    const waiting = drain({})
    await new Promise((r) => setTimeout(r, 300))
    const first = await enrol()
    const raised = await waiting
    expect(raised).toHaveLength(2)
    expect(raised.find((e) => e[`${CAEP}/assurance-level-change`])?.[`${CAEP}/assurance-level-change`]).toMatchObject({
      namespace: 'RFC8176',
      previous_level: 'pwd',
      current_level: 'mfa',
      change_direction: 'increase',
      initiating_entity: 'user',
      event_timestamp: expect.any(Number),
    })
    expect(raised.find((e) => e[`${CAEP}/credential-change`])?.[`${CAEP}/credential-change`]).toMatchObject({
      change_type: 'create',
      credential_type: 'app',
    })

    // a second factor: the level stays mfa (credential-change only)
    const second = await enrol()
    expect((await drain()).map((e) => Object.keys(e))).toEqual([[`${CAEP}/credential-change`]])
    const remove = (id: string) =>
      mfa.remove(
        user.id,
        id,
        server.container.audit.with(() => ({
          action: 'mfa.removed',
          outcome: 'success',
          actor: user.id,
          target: user.id,
          details: { factor: id },
        })),
      )
    await remove(first.id)
    expect((await drain()).map((e) => Object.keys(e))).toEqual([[`${CAEP}/credential-change`]])
    await remove(second.id)
    const lowered = await drain()
    expect(lowered.find((e) => e[`${CAEP}/assurance-level-change`])?.[`${CAEP}/assurance-level-change`]).toMatchObject({
      previous_level: 'mfa',
      current_level: 'pwd',
      change_direction: 'decrease',
    })
    // an administrator's MFA reset of an account with a factor lowers it too
    await enrol()
    await drain()
    await adminServices(server.container).users.resetMfa({ kind: 'cli' }, user.id)
    const reset = await drain()
    expect(reset.find((e) => e[`${CAEP}/assurance-level-change`])?.[`${CAEP}/assurance-level-change`]).toMatchObject({
      current_level: 'pwd',
      change_direction: 'decrease',
      initiating_entity: 'admin',
    })
  })

  it('a SET commits with its change: a queue that refuses the SET rolls the change back; committed, it is queued', async () => {
    const user = (await server.container.users.findByEmail('fay@example.com'))!
    const { id, poll } = await pollStream('rp-tx', [`${RISC}/account-disabled`], user.email)
    const db = server.container.db
    const [refuse, allow] =
      kind === 'postgresql'
        ? [
            'ALTER TABLE "SsfEvent" ADD CONSTRAINT refuse_test CHECK (false) NOT VALID',
            'ALTER TABLE "SsfEvent" DROP CONSTRAINT refuse_test',
          ]
        : [
            `CREATE TRIGGER refuse_test BEFORE INSERT ON "SsfEvent" BEGIN SELECT RAISE(ABORT, 'SET refused'); END`,
            'DROP TRIGGER refuse_test',
          ]
    await db.$executeRawUnsafe(refuse)
    try {
      await expect(server.container.accounts.disable(user.email, 'admin:test')).rejects.toThrow()
    } finally {
      await db.$executeRawUnsafe(allow)
    }
    // neither the change nor its audit record was stored
    expect((await server.container.users.findByEmail(user.email))!.disabled).toBe(false)
    const records = await server.container.audit.list({ action: 'user.disabled', limit: 50 })
    expect(records.filter((r) => r.target === user.id)).toEqual([])

    await server.container.accounts.disable(user.email, 'admin:test')
    // queued by the transaction itself: in the table the moment the change returns
    expect(await db.ssfEvent.count({ where: { streamId: id } })).toBe(1)
    const sets = (await poll({ returnImmediately: true })).body.sets as Record<string, string>
    const claims = await validator('rp-tx')(Object.values(sets)[0]!)
    expect(Object.keys(claims.events)).toEqual([`${RISC}/account-disabled`])
    expect(claims.sub_id).toEqual({ format: 'iss_sub', iss: server.url, sub: user.id })
  })

  it('stream-updated: an administrator pauses the stream, the receiver is told; once enabled again, events flow', async () => {
    const token = await apiToken(server, 'rp-su', 'ssf:stream')
    const created = await call(server, 'POST', '/ssf/v1/stream', token, {
      delivery: {
        method: 'urn:ietf:rfc:8935',
        endpoint_url: receiverUrl,
        authorization_header: 'Bearer receiver-secret',
      },
      events_requested: [`${RISC}/account-enabled`, `${RISC}/account-disabled`],
    })
    const id = created.body.stream_id as string
    await call(server, 'POST', '/ssf/v1/subjects/add', token, {
      stream_id: id,
      subject: { format: 'email', email: 'fay@example.com' },
    })
    const root = await apiToken(server, 'root', 'admin')
    const validate = validator('rp-su')
    const listed = await call(server, 'GET', '/admin/v1/ssf/streams', root)
    expect(listed.status).toBe(200)
    expect(listed.body.items.find((s: { stream_id: string }) => s.stream_id === id)).toMatchObject({ aud: 'rp-su' })
    expect(JSON.stringify(listed.body)).not.toContain('receiver-secret')
    // the receiver cannot use the admin API, and bad input is a 400
    expect((await call(server, 'POST', `/admin/v1/ssf/streams/${id}/status`, token, { status: 'paused' })).status).toBe(
      403,
    )
    expect((await call(server, 'POST', `/admin/v1/ssf/streams/${id}/status`, root, { status: 'gone' })).status).toBe(
      400,
    )
    expect((await call(server, 'POST', '/admin/v1/ssf/streams/nope/status', root, { status: 'paused' })).status).toBe(
      404,
    )

    const before = pushed.length
    const paused = await call(server, 'POST', `/admin/v1/ssf/streams/${id}/status`, root, {
      status: 'paused',
      reason: 'maintenance',
    })
    expect(paused.body).toEqual({ stream_id: id, status: 'paused', reason: 'maintenance' })
    const update = await validate(await until(() => pushed[before]))
    expect(update.sub_id).toEqual({ format: 'opaque', id })
    expect(update.events).toEqual({
      'https://schemas.openid.net/secevent/ssf/event-type/stream-updated': { status: 'paused', reason: 'maintenance' },
    })
    expect((await call(server, 'GET', `/ssf/v1/status?stream_id=${id}`, token)).body).toMatchObject({
      status: 'paused',
    })

    // the receiver's own status change is not echoed back to it
    await call(server, 'POST', '/ssf/v1/status', token, { stream_id: id, status: 'paused' })
    const enabled = await call(server, 'POST', `/admin/v1/ssf/streams/${id}/status`, root, { status: 'enabled' })
    expect(enabled.body).toEqual({ stream_id: id, status: 'enabled' })
    const again = await validate(await until(() => pushed[before + 1]))
    expect(again.events).toEqual({
      'https://schemas.openid.net/secevent/ssf/event-type/stream-updated': { status: 'enabled' },
    })
    await server.container.accounts.enable('fay@example.com', 'admin:test')
    const enabledEvent = await validate(await until(() => pushed[before + 2]))
    expect(Object.keys(enabledEvent.events)).toEqual([`${RISC}/account-enabled`])
    expect(pushed.length).toBe(before + 3)
  })
})
