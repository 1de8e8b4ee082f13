import crypto from 'node:crypto'
import { Redis } from 'ioredis'
import type { AdapterPayload } from 'oidc-provider'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDb, type Db } from '../../src/db/client.ts'
import { createTestDatabase, pgTestUrl, redisTestUrl, type TestDatabase } from '../../src/db/testing.ts'
import {
  clientAdapter,
  GRANT_BOUND_MODELS,
  modelRouter,
  prismaAdapter,
  redisAdapter,
  SHORT_LIVED_MODELS,
  type AdapterFactory,
} from '../../src/oidc/adapters.ts'
import { clientQueries } from '../../src/oidc/queries/clients.ts'
import { payloadQueries } from '../../src/oidc/queries/payloads.ts'
import { testContainer } from '../helpers/container.ts'

const pgUrl = pgTestUrl()
const redisUrl = redisTestUrl()
if (!pgUrl) console.warn('PostgreSQL suite skipped: TEST_DATABASE_URL not set')
if (!redisUrl) console.warn('Redis suite skipped: TEST_REDIS_URL not set')

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const epoch = () => Math.floor(Date.now() / 1000)
const newId = () => crypto.randomUUID()
const uniquePrefix = () => `pc-test:${crypto.randomBytes(6).toString('hex')}:`

/** A token-like payload as oidc-provider writes it. */
function tokenPayload(kind: string, jti: string, extra: Partial<AdapterPayload> = {}): AdapterPayload {
  const iat = epoch()
  return { iat, exp: iat + 3600, jti, kind, accountId: 'acct-1', clientId: 'client-1', scope: 'openid email', ...extra }
}

/** Every model oidc-provider 9 stores through the adapter (lib/models), but Client. */
const ALL_MODELS = [
  'Session',
  'Interaction',
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'ClientCredentials',
  'InitialAccessToken',
  'RegistrationAccessToken',
  'Grant',
  'ReplayDetection',
  'PushedAuthorizationRequest',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]

/** Every key under a prefix (SCAN, not KEYS, so it is safe on a shared server). */
async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
    cursor = next
    keys.push(...batch)
  } while (cursor !== '0')
  return keys
}

async function deleteUnder(redis: Redis, prefix: string) {
  const keys = await keysUnder(redis, prefix)
  if (keys.length) await redis.del(...keys)
}

interface Store {
  adapter: AdapterFactory
  close(): Promise<void>
}

async function prismaStore(kind: 'sqlite' | 'postgresql'): Promise<Store> {
  const tdb = await createTestDatabase(kind)
  const db = await createDb(tdb.url)
  return {
    adapter: prismaAdapter(payloadQueries(db)),
    async close() {
      await db.$disconnect()
      await tdb.drop()
    },
  }
}

async function redisStore(url: string): Promise<Store> {
  const redis = new Redis(url, { maxRetriesPerRequest: 2 })
  const prefix = uniquePrefix()
  return {
    adapter: redisAdapter(redis, prefix),
    async close() {
      await deleteUnder(redis, prefix)
      await redis.quit()
    },
  }
}

/** The behaviour oidc-provider (and the rest of portcullis) relies on, whatever the store. */
function adapterContract(name: string, skip: boolean, open: () => Promise<Store>) {
  describe.skipIf(skip)(`oidc adapter contract: ${name}`, () => {
    let store: Store
    const a = (model: string) => store.adapter(model)

    beforeAll(async () => {
      store = await open()
    })
    afterAll(async () => {
      await store?.close()
    })

    it('find returns what upsert stored, and undefined for an unknown id', async () => {
      const id = newId()
      const payload = tokenPayload('AccessToken', id, { grantId: newId(), extra: { tenant: 't1' } })
      await a('AccessToken').upsert(id, payload, 3600)
      expect(await a('AccessToken').find(id)).toEqual(payload)

      expect(await a('AccessToken').find(newId())).toBeUndefined()
      expect(await a('Session').findByUid(newId())).toBeUndefined()
      expect(await a('DeviceCode').findByUserCode('NOPE-NOPE')).toBeUndefined()
    })

    it('keeps instances of different models with the same id apart', async () => {
      const id = newId()
      const at = tokenPayload('AccessToken', id, { scope: 'openid' })
      const rt = tokenPayload('RefreshToken', id, { scope: 'openid offline_access' })
      await a('AccessToken').upsert(id, at, 3600)
      await a('RefreshToken').upsert(id, rt, 3600)
      expect(await a('AccessToken').find(id)).toEqual(at)
      expect(await a('RefreshToken').find(id)).toEqual(rt)

      await a('AccessToken').destroy(id)
      expect(await a('AccessToken').find(id)).toBeUndefined()
      expect(await a('RefreshToken').find(id)).toEqual(rt)
    })

    it('upsert of an existing id replaces the whole payload and its lookups', async () => {
      const id = newId()
      const first = {
        uid: newId(),
        userCode: 'FRST-CODE',
        kind: 'DeviceCode',
        jti: id,
        params: { scope: 'openid' },
        onlyInFirst: true,
      }
      await a('DeviceCode').upsert(id, first, 600)
      expect(await a('DeviceCode').findByUserCode('FRST-CODE')).toEqual(first)

      const second = {
        uid: newId(),
        userCode: 'SCND-CODE',
        kind: 'DeviceCode',
        jti: id,
        params: { scope: 'openid profile' },
      }
      await a('DeviceCode').upsert(id, second, 600)
      const found = await a('DeviceCode').find(id)
      expect(found).toEqual(second)
      expect(found).not.toHaveProperty('onlyInFirst')

      expect(await a('DeviceCode').findByUserCode('SCND-CODE')).toEqual(second)
      expect(await a('DeviceCode').findByUid(second.uid)).toEqual(second)
      // the replaced values no longer lead to the instance
      expect(await a('DeviceCode').findByUserCode('FRST-CODE')).toBeUndefined()
      expect(await a('DeviceCode').findByUid(first.uid)).toBeUndefined()
    })

    it('findByUid finds a Session, findByUserCode finds a DeviceCode', async () => {
      const sessionId = newId()
      const session = {
        uid: newId(),
        jti: sessionId,
        kind: 'Session',
        loginTs: epoch(),
        accountId: 'acct-1',
        authorizations: { 'client-1': { sid: newId(), grantId: newId() } },
      }
      await a('Session').upsert(sessionId, session, 600)
      expect(await a('Session').findByUid(session.uid)).toEqual(session)
      expect(await a('Session').find(sessionId)).toEqual(session)

      const deviceId = newId()
      const userCode = `U${crypto.randomBytes(4).toString('hex').toUpperCase()}`
      const device = {
        userCode,
        jti: deviceId,
        kind: 'DeviceCode',
        grantId: newId(),
        clientId: 'tv',
        params: { client_id: 'tv', scope: 'openid' },
        deviceInfo: { ip: '127.0.0.1', ua: 'tv/1.0' },
      }
      await a('DeviceCode').upsert(deviceId, device, 600)
      expect(await a('DeviceCode').findByUserCode(userCode)).toEqual(device)
      // lookups are per model
      expect(await a('Interaction').findByUid(session.uid)).toBeUndefined()
      expect(await a('BackchannelAuthenticationRequest').findByUserCode(userCode)).toBeUndefined()
    })

    it('consume marks the instance consumed (epoch seconds) and find still returns it', async () => {
      const id = newId()
      const payload = tokenPayload('AuthorizationCode', id, {
        grantId: newId(),
        redirectUri: 'https://app.example.com/cb',
        codeChallenge: 'x'.repeat(43),
      })
      await a('AuthorizationCode').upsert(id, payload, 600)
      expect(await a('AuthorizationCode').find(id)).not.toHaveProperty('consumed')

      const before = epoch()
      await a('AuthorizationCode').consume(id)
      const after = epoch()
      const found = await a('AuthorizationCode').find(id)
      expect(found).toEqual({ ...payload, consumed: expect.any(Number) })
      const consumed = (found as AdapterPayload).consumed as number
      expect(Number.isInteger(consumed)).toBe(true)
      expect(consumed).toBeGreaterThanOrEqual(before)
      expect(consumed).toBeLessThanOrEqual(after)

      // consuming something that does not exist neither fails nor creates it
      const ghost = newId()
      await a('AuthorizationCode').consume(ghost)
      expect(await a('AuthorizationCode').find(ghost)).toBeUndefined()
    })

    it('destroy removes the instance and its lookups, and only it', async () => {
      const id = newId()
      const other = newId()
      const session = { uid: newId(), jti: id, kind: 'Session', accountId: 'acct-1' }
      const otherSession = { uid: newId(), jti: other, kind: 'Session', accountId: 'acct-2' }
      await a('Session').upsert(id, session, 600)
      await a('Session').upsert(other, otherSession, 600)

      await a('Session').destroy(id)
      expect(await a('Session').find(id)).toBeUndefined()
      expect(await a('Session').findByUid(session.uid)).toBeUndefined()
      expect(await a('Session').find(other)).toEqual(otherSession)
      expect(await a('Session').findByUid(otherSession.uid)).toEqual(otherSession)

      await a('Session').destroy(newId()) // unknown id: no error
    })

    it('revokeByGrantId removes every instance of the grant across models, and nothing else', async () => {
      const grant = newId()
      const otherGrant = newId()
      const ids = { at: newId(), rt: newId(), code: newId(), otherAt: newId(), otherCode: newId(), plain: newId() }
      await a('AccessToken').upsert(ids.at, tokenPayload('AccessToken', ids.at, { grantId: grant }), 3600)
      await a('RefreshToken').upsert(ids.rt, tokenPayload('RefreshToken', ids.rt, { grantId: grant }), 86_400)
      await a('AuthorizationCode').upsert(ids.code, tokenPayload('AuthorizationCode', ids.code, { grantId: grant }), 60)
      await a('AccessToken').upsert(
        ids.otherAt,
        tokenPayload('AccessToken', ids.otherAt, { grantId: otherGrant }),
        3600,
      )
      await a('AuthorizationCode').upsert(
        ids.otherCode,
        tokenPayload('AuthorizationCode', ids.otherCode, { grantId: otherGrant }),
        60,
      )
      await a('ClientCredentials').upsert(ids.plain, tokenPayload('ClientCredentials', ids.plain), 3600)

      await a('RefreshToken').revokeByGrantId(grant)

      expect(await a('AccessToken').find(ids.at)).toBeUndefined()
      expect(await a('RefreshToken').find(ids.rt)).toBeUndefined()
      expect(await a('AuthorizationCode').find(ids.code)).toBeUndefined()
      expect(await a('AccessToken').find(ids.otherAt)).toMatchObject({ grantId: otherGrant })
      expect(await a('AuthorizationCode').find(ids.otherCode)).toMatchObject({ grantId: otherGrant })
      expect(await a('ClientCredentials').find(ids.plain)).toMatchObject({ jti: ids.plain })

      await a('AccessToken').revokeByGrantId(newId()) // unknown grant: no error
      expect(await a('AccessToken').find(ids.otherAt)).toMatchObject({ grantId: otherGrant })
    })

    // Account switching: ending A's session revokes A's grant while B's sign-in (an Interaction
    // that still carries A's grantId) is pending in the same browser.
    it("revokeByGrantId removes only the grant's credentials: an Interaction or Session carrying the grantId survives", async () => {
      const grant = newId()
      const ids = Object.fromEntries(ALL_MODELS.map((m) => [m, newId()]))
      for (const model of ALL_MODELS) {
        await a(model).upsert(
          ids[model]!,
          {
            jti: ids[model],
            kind: model,
            grantId: grant,
            accountId: model === 'Interaction' ? 'acct-B' : 'acct-A',
            uid: newId(),
          },
          600,
        )
      }
      await a('AccessToken').revokeByGrantId(grant)
      for (const model of ALL_MODELS) {
        const found = await a(model).find(ids[model]!)
        expect({ model, kept: found !== undefined }).toEqual({ model, kept: !GRANT_BOUND_MODELS.has(model) })
      }
      expect(await a('Interaction').find(ids.Interaction!)).toMatchObject({ accountId: 'acct-B', grantId: grant })
    })

    it('payloads with unicode and nested objects survive the round trip', async () => {
      const id = newId()
      const payload: AdapterPayload = {
        jti: id,
        kind: 'Interaction',
        uid: newId(),
        accountId: 'ü-Ωmega-用户-👩‍💻',
        extra: {
          name: 'Zoë Ångström-Łukasiewicz',
          nickname: 'مرحبا שלום こんにちは',
          emoji: '🔐🗝️🏳️‍🌈',
          combining: 'e\u0301 n\u0303',
          controls: 'tab\tnew\nline\u0000nul\u001f',
          quotes: `"'\\\``,
          astral: '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
        },
        params: {
          nested: {
            deeper: { deepest: [1, 2.5, -3, 0, 1e21, Number.MAX_SAFE_INTEGER, true, false, null, { k: 'v' }, []] },
          },
          empty: {},
          list: [],
          none: null,
        },
        prompt: { name: 'login', reasons: ['no_session'], details: {} },
      }
      await a('Interaction').upsert(id, payload, 600)
      expect(await a('Interaction').find(id)).toEqual(payload)
      expect(await a('Interaction').findByUid(payload.uid as string)).toEqual(payload)
    })

    it(
      'expires instances after expiresIn, keeps longer-lived ones and those without TTL',
      { timeout: 15_000 },
      async () => {
        const short = newId()
        const consumedShort = newId()
        const long = newId()
        const forever = newId()
        const shortPayload = {
          jti: short,
          kind: 'DeviceCode',
          uid: newId(),
          userCode: `S${crypto.randomBytes(4).toString('hex')}`,
        }
        await a('DeviceCode').upsert(short, shortPayload, 1)
        await a('AuthorizationCode').upsert(consumedShort, tokenPayload('AuthorizationCode', consumedShort), 1)
        await a('AuthorizationCode').consume(consumedShort)
        await a('AccessToken').upsert(long, tokenPayload('AccessToken', long), 60)
        await a('Grant').upsert(forever, { jti: forever, kind: 'Grant', accountId: 'acct-1', clientId: 'client-1' })

        // a grant index must outlive its short-lived members: whichever order they come in, and
        // when a member has no TTL at all
        const longFirst = newId(),
          shortAfter = newId(),
          shortFirst = newId(),
          longAfter = newId()
        const noTtlFirst = newId(),
          shortAfterNoTtl = newId()
        const [g1, g2, g3] = [newId(), newId(), newId()]
        await a('RefreshToken').upsert(longFirst, tokenPayload('RefreshToken', longFirst, { grantId: g1 }), 60)
        await a('AccessToken').upsert(shortAfter, tokenPayload('AccessToken', shortAfter, { grantId: g1 }), 1)
        await a('AccessToken').upsert(shortFirst, tokenPayload('AccessToken', shortFirst, { grantId: g2 }), 1)
        await a('RefreshToken').upsert(longAfter, tokenPayload('RefreshToken', longAfter, { grantId: g2 }), 60)
        await a('RefreshToken').upsert(noTtlFirst, tokenPayload('RefreshToken', noTtlFirst, { grantId: g3 }))
        await a('AccessToken').upsert(shortAfterNoTtl, tokenPayload('AccessToken', shortAfterNoTtl, { grantId: g3 }), 1)

        expect(await a('DeviceCode').find(short)).toEqual(shortPayload)
        expect(await a('AuthorizationCode').find(consumedShort)).toHaveProperty('consumed')

        await sleep(1100)

        expect(await a('DeviceCode').find(short)).toBeUndefined()
        expect(await a('DeviceCode').findByUid(shortPayload.uid)).toBeUndefined()
        expect(await a('DeviceCode').findByUserCode(shortPayload.userCode)).toBeUndefined()
        expect(await a('AuthorizationCode').find(consumedShort)).toBeUndefined() // consume kept the TTL
        expect(await a('AccessToken').find(shortAfter)).toBeUndefined()
        expect(await a('AccessToken').find(long)).toMatchObject({ jti: long })
        expect(await a('Grant').find(forever)).toMatchObject({ jti: forever })

        for (const [grant, survivor] of [
          [g1, longFirst],
          [g2, longAfter],
          [g3, noTtlFirst],
        ] as const) {
          expect(await a('RefreshToken').find(survivor)).toMatchObject({ grantId: grant })
          await a('AccessToken').revokeByGrantId(grant)
          expect(await a('RefreshToken').find(survivor), `grant ${grant}`).toBeUndefined()
        }
      },
    )
  })
}

adapterContract('prismaAdapter on SQLite', false, () => prismaStore('sqlite'))
adapterContract('prismaAdapter on PostgreSQL', !pgUrl, () => prismaStore('postgresql'))
adapterContract('redisAdapter on Redis', !redisUrl, () => redisStore(redisUrl as string))

describe.skipIf(!redisUrl)('modelRouter with Redis', () => {
  let tdb: TestDatabase
  let db: Db
  let redis: Redis
  let prefix: string
  let router: AdapterFactory

  beforeAll(async () => {
    tdb = await createTestDatabase('sqlite')
    db = await createDb(tdb.url)
    redis = new Redis(redisUrl as string, { maxRetriesPerRequest: 2 })
    prefix = uniquePrefix()
    router = modelRouter({
      db: prismaAdapter(payloadQueries(db)),
      redis: redisAdapter(redis, prefix),
      clients: clientAdapter(clientQueries(db)),
    })
  })
  afterAll(async () => {
    if (redis) {
      await deleteUnder(redis, prefix)
      await redis.quit()
    }
    await db?.$disconnect()
    await tdb?.drop()
  })

  const redisKeysFor = async (id: string) => (await keysUnder(redis, prefix)).filter((k) => k.includes(id))
  const dbRow = (model: string, id: string) => db.oidcPayload.findUnique({ where: { model_id: { model, id } } })

  it('keeps a Session in Redis and an AccessToken in the database', async () => {
    const sid = newId()
    const session = { uid: newId(), jti: sid, kind: 'Session', accountId: 'acct-1' }
    await router('Session').upsert(sid, session, 600)
    expect(await redisKeysFor(sid)).not.toHaveLength(0)
    expect(await dbRow('Session', sid)).toBeNull()
    expect(await router('Session').find(sid)).toEqual(session)
    expect(await router('Session').findByUid(session.uid)).toEqual(session)
    expect(await redis.ttl((await redisKeysFor(sid))[0]!)).toBeGreaterThan(500)

    const atId = newId()
    const at = tokenPayload('AccessToken', atId, { grantId: newId() })
    await router('AccessToken').upsert(atId, at, 3600)
    const row = await dbRow('AccessToken', atId)
    expect(row).not.toBeNull()
    expect(JSON.parse(row!.payload)).toEqual(at)
    expect(row!.grantId).toBe(at.grantId)
    expect(await redisKeysFor(atId)).toEqual([])
    expect(await router('AccessToken').find(atId)).toEqual(at)

    await router('Session').destroy(sid)
    expect(await router('Session').find(sid)).toBeUndefined()
    await router('AccessToken').consume(atId)
    expect((await dbRow('AccessToken', atId))?.consumedAt).toBeInstanceOf(Date)
  })

  it('sends every short-lived model to Redis and the long-lived ones to the database', async () => {
    for (const model of [
      ...SHORT_LIVED_MODELS,
      'AccessToken',
      'RefreshToken',
      'ClientCredentials',
      'Grant',
      'RegistrationAccessToken',
    ]) {
      const id = newId()
      await router(model).upsert(id, { jti: id, kind: model }, 600)
      const inRedis = (await redisKeysFor(id)).length > 0
      const inDb = (await dbRow(model, id)) !== null
      expect({ model, inRedis, inDb }).toEqual({
        model,
        inRedis: SHORT_LIVED_MODELS.has(model),
        inDb: !SHORT_LIVED_MODELS.has(model),
      })
    }
  })

  it('serves Client from the clients table, read-only', async () => {
    expect(await router('Client').find('no-such-client')).toBeUndefined()
    await expect(router('Client').upsert('c1', { client_id: 'c1' }, 60)).rejects.toThrow(/managed through portcullis/)
  })

  it('revokeByGrantId through the router removes the grant on both sides', async () => {
    const grant = newId()
    const other = newId()
    const ids = { at: newId(), rt: newId(), code: newId(), device: newId(), otherAt: newId(), otherCode: newId() }
    await router('AccessToken').upsert(ids.at, tokenPayload('AccessToken', ids.at, { grantId: grant }), 3600)
    await router('RefreshToken').upsert(ids.rt, tokenPayload('RefreshToken', ids.rt, { grantId: grant }), 86_400)
    await router('AuthorizationCode').upsert(
      ids.code,
      tokenPayload('AuthorizationCode', ids.code, { grantId: grant }),
      60,
    )
    await router('DeviceCode').upsert(
      ids.device,
      { jti: ids.device, kind: 'DeviceCode', grantId: grant, userCode: 'DEVC-CODE' },
      600,
    )
    await router('AccessToken').upsert(ids.otherAt, tokenPayload('AccessToken', ids.otherAt, { grantId: other }), 3600)
    await router('AuthorizationCode').upsert(
      ids.otherCode,
      tokenPayload('AuthorizationCode', ids.otherCode, { grantId: other }),
      60,
    )
    // both sides really hold part of the grant
    expect(await dbRow('AccessToken', ids.at)).not.toBeNull()
    expect(await redisKeysFor(ids.code)).not.toHaveLength(0)

    // one call, through a database-backed model, as for a client with no code grants
    await router('AccessToken').revokeByGrantId(grant)

    expect(await dbRow('AccessToken', ids.at)).toBeNull()
    expect(await dbRow('RefreshToken', ids.rt)).toBeNull()
    expect(await redisKeysFor(ids.code)).toEqual([])
    expect(await redisKeysFor(ids.device)).toEqual([])
    expect(await router('AuthorizationCode').find(ids.code)).toBeUndefined()
    expect(await router('DeviceCode').findByUserCode('DEVC-CODE')).toBeUndefined()

    expect(await dbRow('AccessToken', ids.otherAt)).not.toBeNull()
    expect(await router('AuthorizationCode').find(ids.otherCode)).toMatchObject({ grantId: other })

    // and through a Redis-backed model
    await router('AuthorizationCode').revokeByGrantId(other)
    expect(await dbRow('AccessToken', ids.otherAt)).toBeNull()
    expect(await router('AuthorizationCode').find(ids.otherCode)).toBeUndefined()
  })

  it('revokeByGrantId through the router keeps Interactions and Sessions on both sides', async () => {
    const grant = newId()
    const ids = Object.fromEntries(ALL_MODELS.map((m) => [m, newId()]))
    for (const model of ALL_MODELS)
      await router(model).upsert(ids[model]!, { jti: ids[model], kind: model, grantId: grant, uid: newId() }, 600)
    await router('RefreshToken').revokeByGrantId(grant)
    for (const model of ALL_MODELS) {
      expect({ model, kept: (await router(model).find(ids[model]!)) !== undefined }).toEqual({
        model,
        kept: !GRANT_BOUND_MODELS.has(model),
      })
    }
  })

  it('a grant index written before this rule (listing an Interaction) still spares the Interaction', async () => {
    const grant = newId()
    const interaction = newId()
    const code = newId()
    const adapter = redisAdapter(redis, prefix)
    await adapter('Interaction').upsert(interaction, { jti: interaction, kind: 'Interaction', grantId: grant }, 600)
    await adapter('AuthorizationCode').upsert(code, { jti: code, kind: 'AuthorizationCode', grantId: grant }, 60)
    // what the older adapter wrote: every instance with a grantId in the grant's list
    await redis.rpush(`${prefix}oidc:grant:${grant}`, `${prefix}oidc:Interaction:${interaction}`)
    await adapter('AuthorizationCode').revokeByGrantId(grant)
    expect(await adapter('AuthorizationCode').find(code)).toBeUndefined()
    expect(await adapter('Interaction').find(interaction)).toMatchObject({ grantId: grant })
  })

  it('the container wires the provider to the same routing', async () => {
    const containerPrefix = uniquePrefix()
    const t = await testContainer('sqlite', { REDIS_URL: redisUrl as string, REDIS_PREFIX: containerPrefix })
    try {
      const provider = t.c.provider()
      const sid = newId()
      await provider.Session.adapter.upsert(sid, { uid: newId(), jti: sid, kind: 'Session' }, 600)
      const atId = newId()
      await provider.AccessToken.adapter.upsert(atId, tokenPayload('AccessToken', atId), 600)

      const keys = await keysUnder(redis, containerPrefix)
      expect(keys.some((k) => k.includes(sid))).toBe(true)
      expect(keys.some((k) => k.includes(atId))).toBe(false)
      expect(
        await t.c.db.oidcPayload.findUnique({ where: { model_id: { model: 'AccessToken', id: atId } } }),
      ).not.toBeNull()
      expect(await t.c.db.oidcPayload.findUnique({ where: { model_id: { model: 'Session', id: sid } } })).toBeNull()
    } finally {
      await deleteUnder(redis, containerPrefix)
      await t.dispose()
    }
  })
})

describe('modelRouter without Redis', () => {
  let tdb: TestDatabase
  let db: Db
  beforeAll(async () => {
    tdb = await createTestDatabase('sqlite')
    db = await createDb(tdb.url)
  })
  afterAll(async () => {
    await db?.$disconnect()
    await tdb?.drop()
  })

  it('sends every model but Client to the database', async () => {
    const router = modelRouter({ db: prismaAdapter(payloadQueries(db)), clients: clientAdapter(clientQueries(db)) })
    for (const model of [...SHORT_LIVED_MODELS, 'AccessToken', 'Grant']) {
      const id = newId()
      await router(model).upsert(id, { jti: id, kind: model }, 600)
      expect(await db.oidcPayload.findUnique({ where: { model_id: { model, id } } }), model).not.toBeNull()
      expect(await router(model).find(id)).toEqual({ jti: id, kind: model })
    }
    const grant = newId()
    const code = newId()
    await router('AuthorizationCode').upsert(code, { jti: code, kind: 'AuthorizationCode', grantId: grant }, 60)
    await router('AccessToken').revokeByGrantId(grant)
    expect(await router('AuthorizationCode').find(code)).toBeUndefined()
    await expect(router('Client').upsert('c1', { client_id: 'c1' }, 60)).rejects.toThrow(/managed through portcullis/)
  })
})
