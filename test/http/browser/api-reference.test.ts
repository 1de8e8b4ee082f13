import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, type TestServer } from '../../helpers/server.ts'
import { chromiumMissing, launchChromium } from '../../helpers/browser.ts'

/**
 * The API reference page (/docs/api) in a real Chromium, under the server's strict CSP: it
 * loads the OpenAPI document and shows every operation, without a single CSP violation or
 * script error, and without any request leaving the server (no CDN).
 */
const missing = chromiumMissing()
const shots = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-browser-'))

describe.skipIf(missing)('the API reference page', () => {
  let server: TestServer
  let browser: Browser

  beforeAll(async () => {
    server = await startTestServer()
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  it('shows every operation of /openapi.json, with no CSP violation and nothing fetched elsewhere', async () => {
    const context = await browser.newContext({ baseURL: server.url })
    const page = await context.newPage()
    const problems: string[] = []
    const elsewhere: string[] = []
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`)
    })
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
    page.on('response', (r) => {
      if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`)
    })
    page.on('request', (r) => {
      if (!r.url().startsWith(server.url) && !r.url().startsWith('data:')) elsewhere.push(r.url())
    })
    await page.addInitScript({
      content:
        "document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))",
    })
    try {
      await page.goto('/docs/api')
      await page.locator('.opblock').first().waitFor({ timeout: 30_000 })
      const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
        paths: Record<string, Record<string, unknown>>
      }
      const expected = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0)
      await expect.poll(() => page.locator('.opblock').count(), { timeout: 30_000 }).toBe(expected)
      await expect
        .poll(() => page.getByText('/authz/v1/stores/{store}/check', { exact: true }).count())
        .toBeGreaterThan(0)
      // an operation opens with its parameters and responses
      await page
        .locator('.opblock-summary-path', { hasText: /^\/apikeys\/v1\/keys\/\{id\}$/ })
        .first()
        .click()
      await page.locator('.opblock.is-open').first().waitFor({ timeout: 30_000 })
      await expect.poll(() => page.locator('.opblock.is-open').getByPlaceholder('id', { exact: true }).count()).toBe(1)
      // the document raised no warnings in the viewer (it shows them in a box above the list)
      expect(await page.getByText('Warning', { exact: true }).count()).toBe(0)
      expect(problems).toEqual([])
      expect(elsewhere).toEqual([])
    } catch (err) {
      await page.screenshot({ path: path.join(shots, 'api-reference.png'), fullPage: true }).catch(() => undefined)
      console.error(`browser test failed; screenshot in ${shots}`)
      throw err
    } finally {
      await context.close()
    }
  })
})
