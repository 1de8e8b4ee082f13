import crypto from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import * as jose from 'jose'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeOnBackends } from '../helpers/backends.ts'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import { apiToken, call, registerServiceClients } from '../helpers/api-client.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

/**
 * Shared Signals across two instances of one deployment (same database, master key, issuer and,
 * in the second variant, Redis): a change made on instance A is pushed to the receiver exactly
 * once although both instances push, and a long poll waiting on instance B answers with it.
 * The receivers validate every SET against the deployment's JWKS.
 */
const RISC = 'https://schemas.openid.net/secevent/risc/event-type'

describeOnBackends('ssf-instances.test.ts', 'Shared Signals on two instances', ({ kind, redisUrl }) => {
  let a: TestServer
  let b: TestServer
  /** instance B as a client reaches it (its own port; its PUBLIC_URL is the deployment's, A's) */
  let bDirect: TestServer
  let receiver: Server
  let receiverUrl: string
  const pushed: string[] = []
  let jwks: ReturnType<typeof jose.createRemoteJWKSet>
  const masterKey = crypto.randomBytes(32).toString('base64')

  beforeAll(async () => {
    a = await startTestServer({ kind, redisUrl, masterKey })
    b = await startTestServer({
      kind,
      db: a.db,
      masterKey,
      ...(redisUrl ? { redisUrl } : {}),
      env: { PUBLIC_URL: a.url, ...(redisUrl ? { REDIS_PREFIX: a.config.REDIS_PREFIX } : {}) },
    })
    bDirect = { ...b, url: `http://localhost:${b.port}` }
    jwks = jose.createRemoteJWKSet(new URL(`${a.url}/jwks`))
    await registerServiceClients(a, [
      { id: 'rx-push', scope: 'ssf:stream' },
      { id: 'rx-poll', scope: 'ssf:stream' },
    ])
    const { doc, problems } = await validateDocument(a.container, {
      users: [{ email: 'gil@example.com', password: 'quiet river lamp orbit', name: 'Gil' }],
    })
    expect(problems).toEqual([])
    await applyDocument(a.container, doc!)
    // a slow receiver: both instances find the SET due while the first push is still under way
    receiver = createServer((req, res) => {
      let body = ''
      req.on('data', (c: Buffer) => {
        body += c.toString()
      })
      req.on('end', () => {
        pushed.push(body)
        setTimeout(() => res.writeHead(202).end(), 300)
      })
    })
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r))
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`
  }, 180_000)
  /** set once B was shut down by the last test (its Redis connection is gone; the database is A's) */
  let bStopped = false
  afterAll(async () => {
    if (!bStopped) await b?.close()
    await a?.close()
    receiver?.close()
  })

  async function validate(set: string, audience: string) {
    const { payload } = await jose.jwtVerify(set, jwks, { issuer: a.url, audience, typ: 'secevent+jwt' })
    return payload as jose.JWTPayload & { sub_id: Record<string, string>; events: Record<string, unknown> }
  }

  it('a change on A: pushed exactly once by the two instances, and a long poll waiting on B answers with it', async () => {
    const user = (await a.container.users.findByEmail('gil@example.com'))!
    const subject = { format: 'email', email: user.email }
    const pushToken = await apiToken(a, 'rx-push', 'ssf:stream')
    const push = await call(a, 'POST', '/ssf/v1/stream', pushToken, {
      delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: receiverUrl },
      events_requested: [`${RISC}/account-disabled`],
    })
    expect(push.status).toBe(201)
    await call(a, 'POST', '/ssf/v1/subjects/add', pushToken, { stream_id: push.body.stream_id, subject })

    // the poll receiver manages its stream and polls through instance B only
    const pollToken = await apiToken(a, 'rx-poll', 'ssf:stream')
    const poll = await call(bDirect, 'POST', '/ssf/v1/stream', pollToken, {
      delivery: { method: 'urn:ietf:rfc:8936' },
      events_requested: [`${RISC}/account-disabled`],
    })
    expect(poll.status).toBe(201)
    const pollId = poll.body.stream_id as string
    expect(poll.body.delivery.endpoint_url).toBe(`${a.url}/ssf/v1/poll/${pollId}`)
    await call(bDirect, 'POST', '/ssf/v1/subjects/add', pollToken, { stream_id: pollId, subject })

    const longPoll = call(bDirect, 'POST', `/ssf/v1/poll/${pollId}`, pollToken, {}, { prefer: 'wait=25' })
    await new Promise((r) => setTimeout(r, 500))
    await a.container.accounts.disable(user.email, 'admin:test')
    // both instances push at once, again and again: the lease lets only one send the SET
    await Promise.all([1, 2, 3].flatMap(() => [a.container.ssf.pushDue(), b.container.ssf.pushDue()]))

    const answered = await longPoll
    expect(answered.status).toBe(200)
    const sets = Object.entries(answered.body.sets as Record<string, string>)
    expect(sets).toHaveLength(1)
    const polled = await validate(sets[0]![1], 'rx-poll')
    expect(polled.jti).toBe(sets[0]![0])
    expect(Object.keys(polled.events)).toEqual([`${RISC}/account-disabled`])
    expect(polled.sub_id).toEqual({ format: 'iss_sub', iss: a.url, sub: user.id })

    for (let i = 0; i < 100 && !pushed.length; i++) await new Promise((r) => setTimeout(r, 100))
    // more rounds on both instances (and their own 2 s timers) find nothing left to send
    await new Promise((r) => setTimeout(r, 2500))
    await Promise.all([a.container.ssf.pushDue(), b.container.ssf.pushDue()])
    expect(pushed).toHaveLength(1)
    const claims = await validate(pushed[0]!, 'rx-push')
    expect(Object.keys(claims.events)).toEqual([`${RISC}/account-disabled`])
    expect(claims.sub_id).toEqual({ format: 'iss_sub', iss: a.url, sub: user.id })

    // acknowledged on B, gone on A too
    expect(
      (await call(bDirect, 'POST', `/ssf/v1/poll/${pollId}`, pollToken, { ack: [polled.jti], returnImmediately: true }))
        .body,
    ).toEqual({ sets: {}, moreAvailable: false })
    expect((await call(a, 'POST', `/ssf/v1/poll/${pollId}`, pollToken, { returnImmediately: true })).body).toEqual({
      sets: {},
      moreAvailable: false,
    })
  })

  it('a long poll is released when its instance shuts down', async () => {
    const pollToken = await apiToken(a, 'rx-poll', 'ssf:stream')
    const id = ((await call(a, 'GET', '/ssf/v1/stream', pollToken)).body as { stream_id: string }[])[0]!.stream_id
    const waiting = call(bDirect, 'POST', `/ssf/v1/poll/${id}`, pollToken, {})
    await new Promise((r) => setTimeout(r, 500))
    bStopped = true
    await b.shutdown()
    const r = await waiting
    expect(r.status).toBe(200)
    expect(r.body).toEqual({ sets: {}, moreAvailable: false })
  })
})
