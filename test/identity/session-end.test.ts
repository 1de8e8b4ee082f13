import { afterAll, beforeAll, expect, it } from 'vitest'
import type { Container } from '../../src/container.ts'
import { describeOnBackends } from '../helpers/backends.ts'
import { testContainer } from '../helpers/container.ts'

/**
 * Which sign-in sessions end when oidc-provider ends one of its sessions (the `end_session`
 * hook): RP-initiated logout, and the logout oidc-provider performs when user B signs in in a
 * browser holding user A's session. Only A's end — never B's, whose new sign-in session is
 * already in the browser's cookie when A's oidc-provider session ends.
 */
describeOnBackends('session-end.test.ts', 'ending an oidc-provider session', (backend) => {
  let t: Awaited<ReturnType<typeof testContainer>>
  let c: Container
  let ann: string
  let ben: string
  beforeAll(async () => {
    t = await testContainer(
      backend.kind,
      backend.redisUrl ? { REDIS_URL: backend.redisUrl, REDIS_PREFIX: `pc-test-se-${Date.now()}:` } : {},
    )
    c = t.c
    ann = (await c.users.create({ email: 'ann@example.com', password: 'quiet river lamp orbit' })).id
    ben = (await c.users.create({ email: 'ben@example.com', password: 'quiet river lamp orbit' })).id
  }, 60_000)
  afterAll(async () => {
    await t?.dispose()
  })

  const newSession = (userId: string) =>
    c.login.sessions.create({ userId, amr: ['pwd'], acr: 'urn:portcullis:acr:pwd' })
  const live = async (token: string) => (await c.login.sessions.resolve(token)) !== undefined

  it("account switch: A's linked session ends, B's in the cookie stays", async () => {
    const a = await newSession(ann)
    await c.login.sessions.link(a.record.id, 'uid-a1')
    const b = await newSession(ben)
    await c.login.hooks.sessionEnded(b.token, { uid: 'uid-a1', accountId: ann })
    expect(await live(a.token)).toBe(false)
    expect(await live(b.token)).toBe(true)
  })

  it("RP-initiated logout: the cookie's session of that account ends, linked or not yet linked", async () => {
    const linked = await newSession(ann)
    await c.login.sessions.link(linked.record.id, 'uid-a2')
    await c.login.hooks.sessionEnded(linked.token, { uid: 'uid-a2', accountId: ann })
    expect(await live(linked.token)).toBe(false)

    const fresh = await newSession(ann)
    await c.login.hooks.sessionEnded(fresh.token, { uid: 'uid-a3', accountId: ann })
    expect(await live(fresh.token)).toBe(false)
  })

  it('a cookie session linked to another oidc-provider session, or without an account, stays', async () => {
    const other = await newSession(ann)
    await c.login.sessions.link(other.record.id, 'uid-a4')
    await c.login.hooks.sessionEnded(other.token, { uid: 'uid-a5', accountId: ann })
    expect(await live(other.token)).toBe(true)
    await c.login.hooks.sessionEnded(other.token, { uid: 'uid-a5' })
    expect(await live(other.token)).toBe(true)
    // hostile cookie values change nothing and do not throw
    for (const token of ['', 'x'.repeat(10_000), '\u0000', 'not-a-token'])
      await c.login.hooks.sessionEnded(token, { uid: 'uid-a4', accountId: ben })
    expect(await live(other.token)).toBe(true)
  })
})
