import { execFile } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

/**
 * scripts/audit-deps.mjs, the CI gate on advisories in production dependencies, judged on saved
 * `npm audit --omit=dev --json` reports (the registry here does not answer audit requests).
 */
const run = promisify(execFile)
const SCRIPT = path.resolve('scripts/audit-deps.mjs')
let dir: string

const advisory = (severity: string, ghsa: string, name = 'somelib') => ({
  source: 1100000 + ghsa.length,
  name,
  dependency: name,
  title: `${severity} problem in ${name}`,
  url: `https://github.com/advisories/${ghsa}`,
  severity,
  cwe: [],
  cvss: {},
  range: '<1.2.3',
})
const reportWith = (...vias: ReturnType<typeof advisory>[]) => ({
  auditReportVersion: 2,
  vulnerabilities: Object.fromEntries(
    vias.map((v) => [
      v.name,
      {
        name: v.name,
        severity: v.severity,
        isDirect: false,
        via: [v],
        effects: [],
        range: v.range,
        nodes: [],
        fixAvailable: true,
      },
    ]),
  ),
  metadata: {
    vulnerabilities: {
      info: 0,
      low: 0,
      moderate: 0,
      high: vias.filter((v) => v.severity === 'high').length,
      critical: vias.filter((v) => v.severity === 'critical').length,
      total: vias.length,
    },
  },
})

async function judge(report: unknown, exceptions?: unknown, extra: string[] = []) {
  const r = path.join(dir, `r-${Math.random().toString(36).slice(2)}.json`)
  const x = path.join(dir, `x-${Math.random().toString(36).slice(2)}.json`)
  await fs.writeFile(r, JSON.stringify(report))
  await fs.writeFile(x, JSON.stringify(exceptions ?? []))
  try {
    const { stdout, stderr } = await run(process.execPath, [SCRIPT, '--input', r, '--exceptions', x, ...extra])
    return { code: 0, out: stdout + stderr }
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string }
    return { code: err.code, out: err.stdout + err.stderr }
  }
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'audit-deps-'))
})
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true })
})

describe('audit-deps', () => {
  it('passes a clean report and one with only moderate advisories', async () => {
    expect((await judge(reportWith())).code).toBe(0)
    expect((await judge(reportWith(advisory('moderate', 'GHSA-mmmm-mmmm-mmmm')))).code).toBe(0)
  })

  it('fails on a high or critical advisory and names it', async () => {
    const high = await judge(reportWith(advisory('high', 'GHSA-aaaa-bbbb-cccc')))
    expect(high.code).toBe(1)
    expect(high.out).toContain('GHSA-aaaa-bbbb-cccc')
    expect((await judge(reportWith(advisory('critical', 'GHSA-cccc-dddd-eeee', 'other')))).code).toBe(1)
  })

  it('an accepted exception before its expiry lets it pass; an expired one fails', async () => {
    const report = reportWith(advisory('high', 'GHSA-aaaa-bbbb-cccc'))
    const ok = await judge(report, [
      {
        id: 'GHSA-aaaa-bbbb-cccc',
        package: 'somelib',
        reason: 'only reachable through the CLI, never the server',
        expires: '2999-12-31',
      },
    ])
    expect(ok.code).toBe(0)
    expect(ok.out).toMatch(/accepted high GHSA-aaaa-bbbb-cccc/)
    const expired = await judge(report, [
      {
        id: 'GHSA-aaaa-bbbb-cccc',
        package: 'somelib',
        reason: 'only reachable through the CLI, never the server',
        expires: '2020-01-01',
      },
    ])
    expect(expired.code).toBe(1)
    expect(expired.out).toMatch(/expired on 2020-01-01/)
    // an exception for another advisory does not cover this one
    expect(
      (
        await judge(report, [
          { id: 'GHSA-zzzz-zzzz-zzzz', reason: 'a different advisory entirely', expires: '2999-12-31' },
        ])
      ).code,
    ).toBe(1)
  })

  it('refuses an exception without a reason or a valid expiry', async () => {
    const r = await judge(reportWith(), [{ id: 'GHSA-aaaa-bbbb-cccc', reason: '', expires: 'someday' }])
    expect(r.code).toBe(1)
    expect(r.out).toMatch(/reason/)
  })

  it('an unreachable advisory endpoint is reported loudly, and fails only with --strict', async () => {
    const unreachable = {
      message: '405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk',
      statusCode: 405,
    }
    const lenient = await judge(unreachable)
    expect(lenient.code).toBe(0)
    expect(lenient.out).toMatch(/NOT checked/)
    expect(lenient.out).toContain('405 Method Not Allowed')
    expect((await judge(unreachable, [], ['--strict'])).code).toBe(2)
  })
})
