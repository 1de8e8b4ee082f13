import { describe, expect, it } from 'vitest'
import { createLogger, SECRET_FIELDS } from '../../src/logger.ts'

/** Log redaction (issue 13 §4): a credential logged by field name never reaches a log line. */
describe('log redaction', () => {
  const SECRET = 'S3cr3t-value-that-must-not-be-logged'
  const capture = () => {
    const lines: string[] = []
    return { lines, logger: createLogger('debug', { write: (l: string) => void lines.push(l) }) }
  }

  it.each([...SECRET_FIELDS, 'code'])('%s is redacted at the top level and one level down', (field) => {
    const { lines, logger } = capture()
    logger.info({ [field]: SECRET }, 'top')
    if (field !== 'code') logger.info({ body: { [field]: SECRET } }, 'nested')
    expect(lines.join('\n')).not.toContain(SECRET)
    expect(lines.join('\n')).toContain('[redacted]')
  })

  it('headers that carry credentials are redacted; err.code and other fields stay readable', () => {
    const { lines, logger } = capture()
    logger.info(
      {
        req: {
          headers: {
            authorization: `Bearer ${SECRET}`,
            cookie: `sid=${SECRET}`,
            'x-api-key': SECRET,
            'user-agent': 'curl',
          },
        },
      },
      'req',
    )
    logger.info({ headers: { 'set-cookie': `sid=${SECRET}`, 'proxy-authorization': `Basic ${SECRET}` } }, 'res')
    const err = Object.assign(new Error('connection reset'), { code: 'ECONNRESET' })
    logger.error({ err, requestId: 'r-1' }, 'failed')
    const out = lines.join('\n')
    expect(out).not.toContain(SECRET)
    expect(out).toContain('"user-agent":"curl"')
    expect(out).toContain('"code":"ECONNRESET"')
    expect(out).toContain('"requestId":"r-1"')
  })
})
