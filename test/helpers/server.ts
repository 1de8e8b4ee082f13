import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { loadConfig, type Config } from '../../src/config/env.ts'
import { createContainer, type Container } from '../../src/container.ts'
import { createLogger } from '../../src/logger.ts'
import { createTestDatabase, type TestDatabase } from '../../src/db/testing.ts'
import { startServer } from '../../src/server.ts'
import { RATE_CLASSES, rateLimitEnvName } from '../../src/http/rate-limit-classes.ts'

/**
 * Suites that are not about rate limits create tokens and sign in in bursts from 127.0.0.1;
 * they run with budgets no test reaches. Rate-limit suites set RATE_LIMIT_<CLASS> in `env`.
 */
const unlimitedForTests = Object.fromEntries(
  RATE_CLASSES.filter((c) => c.points !== null).map((c) => [rateLimitEnvName(c), '1000000/60']),
)

/**
 * A real portcullis listening on 127.0.0.1 with its own database (a fresh SQLite file, or a
 * fresh PostgreSQL database when kind is 'postgresql'), its own data dir and master key.
 */
export interface TestServer {
  url: string
  port: number
  container: Container
  db: TestDatabase
  /** stop accepting and finish in-flight requests, without dropping the database */
  shutdown(): Promise<void>
  config: Readonly<Config>
  close(): Promise<void>
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })
}

export interface TestServerOptions {
  kind?: 'sqlite' | 'postgresql'
  redisUrl?: string
  env?: Record<string, string>
  /** reuse an existing database (second instance) */
  db?: TestDatabase
  masterKey?: string
  /** receives every JSON log line (LOG_LEVEL defaults to info when set) */
  logSink?: string[]
  /**
   * The host of PUBLIC_URL (default localhost). Two instances a browser visits need different
   * hosts: cookies are not separated by port (RFC 6265 §8.5).
   */
  publicHost?: string
  /** PUBLIC_URL with https:// (a test that starts the native HTTPS listener, TLS_CERT/TLS_KEY) */
  https?: boolean
}

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const db = opts.db ?? (await createTestDatabase(opts.kind ?? 'sqlite'))
  const port = await freePort()
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'portcullis-data-'))
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: `${opts.https ? 'https' : 'http'}://${opts.publicHost ?? 'localhost'}:${port}`,
    DATABASE_URL: db.url,
    DATA_DIR: dataDir,
    PORTCULLIS_MASTER_KEY: opts.masterKey ?? crypto.randomBytes(32).toString('base64'),
    LOG_LEVEL: opts.logSink ? 'info' : (process.env.TEST_LOG_LEVEL ?? 'silent'),
    ...unlimitedForTests,
    ...(opts.redisUrl
      ? { REDIS_URL: opts.redisUrl, REDIS_PREFIX: `pc-test-${crypto.randomBytes(4).toString('hex')}:` }
      : {}),
    ...opts.env,
  })
  const sink = opts.logSink
  const logger = sink
    ? createLogger(config.LOG_LEVEL, { write: (line: string) => void sink.push(line) })
    : createLogger(config.LOG_LEVEL)
  const container = await createContainer(config, { logger })
  const server = await startServer(container)
  return {
    url: config.PUBLIC_URL,
    port,
    container,
    db,
    config,
    shutdown: () => server.close(),
    async close() {
      if (opts.redisUrl && container.redis) {
        const keys = await container.redis.keys(`${config.REDIS_PREFIX}*`)
        if (keys.length) await container.redis.del(...keys)
      }
      await server.close()
      if (!opts.db) await db.drop()
      await fs.rm(dataDir, { recursive: true, force: true })
    },
  }
}
