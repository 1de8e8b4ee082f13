import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generate } from 'otplib'
import { startTestServer, type TestServer } from '../../helpers/server.ts'
import { applyDocument, validateDocument } from '../../../src/declarative/apply.ts'
import { chromiumMissing, launchChromium } from '../../helpers/browser.ts'

/**
 * Personal API keys on the account pages (`/account/keys`) in a real Chromium: create a key
 * (its secret shown once), use it against a real API, rotate it (old and new both work during
 * the grace period), revoke it (refused at once), and the form's refusals. Screenshots on failure.
 */
const missing = chromiumMissing()

const PASSWORD = 'quiet river lamp orbit'
const MAX_TOTP = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP'
const shots = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-browser-'))

describe.skipIf(missing)('personal API keys on the account pages', () => {
  let server: TestServer
  let browser: Browser
  const contexts: BrowserContext[] = []

  beforeAll(async () => {
    server = await startTestServer()
    // authz:check lets her keys ask the PDP; a key never gets more than its owner has.
    await server.container.users.create({ email: 'kim@example.com', password: PASSWORD, roles: ['authz:check'] })
    // Max holds orders:read through role clerk and apikeys:manage through the role of that name,
    // and has an authenticator app; orders:write names no role, so nobody holds it.
    const { doc, problems } = await validateDocument(server.container, {
      resources: [
        {
          indicator: 'https://orders.example.com',
          scopes: [
            { name: 'orders:read', description: 'Read the orders of your team', roles: ['clerk'] },
            'orders:write',
          ],
        },
      ],
      users: [
        { email: 'max@example.com', password: PASSWORD, roles: ['clerk', 'apikeys:manage'], totp_secret: MAX_TOTP },
      ],
    })
    expect(problems).toEqual([])
    await applyDocument(server.container, doc!)
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  async function withScreenshots(name: string, fn: (page: Page) => Promise<void>) {
    const context = await browser.newContext({ baseURL: server.url })
    contexts.push(context)
    try {
      await fn(await context.newPage())
    } catch (err) {
      let i = 0
      for (const p of context.pages())
        await p.screenshot({ path: path.join(shots, `${name}-${i++}.png`), fullPage: true }).catch(() => undefined)
      console.error(`browser test "${name}" failed; screenshots in ${shots}`)
      throw err
    } finally {
      await context.close().catch(() => undefined)
    }
  }

  async function signIn(page: Page, email = 'kim@example.com') {
    await page.goto('/account')
    await page.getByLabel('Email').fill(email)
    await page.getByLabel('Password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    if (email === 'max@example.com') {
      await page.getByLabel('Code from your authenticator app').fill(await generate({ secret: MAX_TOTP }))
      await page.getByRole('button', { name: 'Verify' }).click()
    }
    await page.waitForURL(/\/account$/)
    await page.getByRole('link', { name: 'API keys' }).click()
    await page.waitForURL(/\/account\/keys$/)
  }

  /** A PDP call that needs authz:check (list the policy stores): 200 when the key is accepted, 401 when not. */
  const useKey = async (key: string) =>
    (await fetch(`${server.url}/authz/v1/stores`, { headers: { authorization: `Bearer ${key}` } })).status

  it('creates a key shown once, uses it, rotates it with overlap, and revokes it at once', async () => {
    await withScreenshots('keys-lifecycle', async (page) => {
      await signIn(page)
      await page.getByLabel('Name', { exact: true }).fill('nightly report')
      await page.getByLabel('authz:check').check()
      // The secret comes in the response to the form post itself: no redirect, never cached.
      const posted = page.waitForResponse(
        (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/account/keys',
      )
      await page.getByRole('button', { name: 'Create key' }).click()
      const created = await posted
      expect(created.status()).toBe(200)
      expect(created.headers()['cache-control']).toBe('no-store')
      const key = await page.getByLabel('API key').inputValue()
      expect(key).toMatch(/^pcs_[A-Za-z0-9]+_/)
      expect(page.url()).not.toContain(key.slice(4, 20))
      expect(page.url()).not.toContain(key)
      expect(await page.getByText('It will not be shown again').count()).toBe(1)
      expect(await useKey(key)).toBe(200)

      // The list never shows the secret again.
      await page.getByRole('link', { name: 'Back to your API keys' }).click()
      const listed = await page.content()
      expect(listed).toContain('nightly report')
      expect(listed).not.toContain(key)

      // Rotate: the successor works, and the old key keeps working during the grace period.
      await page.getByRole('button', { name: 'Rotate nightly report' }).click()
      const successor = await page.getByLabel('API key').inputValue()
      expect(successor).not.toBe(key)
      expect(await page.getByRole('status').textContent()).toContain('keeps working until')
      expect(await useKey(successor)).toBe(200)
      expect(await useKey(key)).toBe(200)
      expect(await page.content()).not.toContain(key) // the old secret is not shown again either

      // Revoke the successor: a confirmation step, then refused immediately.
      await page.getByRole('link', { name: 'Back to your API keys' }).click()
      await page.getByRole('button', { name: 'Revoke nightly report' }).first().click()
      await page.getByRole('button', { name: 'Revoke key' }).click()
      await page.waitForURL(/done=revoked/)
      expect(await page.getByRole('status').textContent()).toContain('revoked')
      const revokedCount = (
        await server.container.apikeys.list({
          type: 'user',
          id: (await server.container.users.findByEmail('kim@example.com'))!.id,
        })
      ).filter((k) => k.revokedAt).length
      expect(revokedCount).toBe(1)
      // the newest key is listed first: the successor is revoked, the old key is still in its grace period
      expect(await useKey(successor)).toBe(401)
      expect(await useKey(key)).toBe(200)
      // The list: newest first — the revoked successor, then the old key in its grace period.
      const rows = page.locator('tbody tr')
      expect(await rows.nth(0).textContent()).toContain('Revoked')
      expect(await rows.nth(1).textContent()).toContain('Rotating')
      expect(await page.content()).not.toContain(successor)

      // The account page's security events include the key's life.
      await page.goto('/account')
      const events = await page.locator('#events-h + table').textContent()
      for (const what of ['API key created', 'API key rotated', 'API key revoked']) expect(events).toContain(what)

      // Each step is in the audit log, with the user as the actor.
      const kimId = (await server.container.users.findByEmail('kim@example.com'))!.id
      for (const action of ['apikey.created', 'apikey.rotated', 'apikey.revoked']) {
        expect((await server.container.audit.list({ action, actor: `user:${kimId}` })).length, action).toBe(1)
      }
    })
  })

  it('explains refusals on the form and creates nothing: no name, bad range, HIGH without allowlist, foreign scope', async () => {
    await withScreenshots('keys-refusals', async (page) => {
      await signIn(page)
      const owner = { type: 'user' as const, id: (await server.container.users.findByEmail('kim@example.com'))!.id }
      const before = (await server.container.apikeys.list(owner)).length

      await page.getByRole('button', { name: 'Create key' }).click()
      expect(await page.locator('#name-error').textContent()).toContain('Give the key a name')
      await expect.poll(() => page.getByLabel('Name', { exact: true }).getAttribute('aria-invalid')).toBe('true')

      await page.getByLabel('Name', { exact: true }).fill('deploy')
      await page.getByLabel('Security level').selectOption('HIGH')
      await page.getByRole('button', { name: 'Create key' }).click()
      expect(await page.locator('#ips-error').textContent()).toContain('needs at least one allowed address')

      await page.getByLabel('Allowed IP addresses').fill('10.0.0.300/8')
      await page.getByRole('button', { name: 'Create key' }).click()
      expect(await page.locator('#ips-error').textContent()).toContain('10.0.0.300/8')
      // the form keeps what was typed
      expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('deploy')

      // The level's other rules come from the key service, each next to its field.
      await page.getByLabel('Allowed IP addresses').fill('10.0.0.0/8, 2001:db8::/32')
      await page.getByLabel('Expires after (days)').fill('200')
      await page.getByRole('button', { name: 'Create key' }).click()
      expect(await page.locator('#days-error').textContent()).toContain('A HIGH key lives at most 90 days')
      expect(await page.getByLabel('Expires after (days)').getAttribute('aria-describedby')).toContain('days-error')
      await page.getByLabel('Security level').selectOption('CRITICAL')
      await page.getByLabel('Expires after (days)').fill('7')
      await page.getByRole('button', { name: 'Create key' }).click()
      expect(await page.locator('#signing-error').textContent()).toContain('needs signed requests')
      expect(await page.getByLabel('Require signed requests (HMAC-SHA256)').getAttribute('aria-invalid')).toBe('true')
      await page.getByLabel('Rate limit (requests per minute)').fill('-5')
      await page.getByRole('button', { name: 'Create key' }).click()
      expect(await page.locator('#rate-error').textContent()).toContain('whole number of requests per minute')

      // A scope she does not hold, posted by hand (the form does not offer it).
      const csrf = await page.locator('input[name=csrf]').first().inputValue()
      const status = await page.evaluate(async (token) => {
        const body = new URLSearchParams({ csrf: token, name: 'sneaky', level: 'LOW', scopes: 'authz:admin' })
        return (await fetch('/account/keys', { method: 'POST', body })).status
      }, csrf)
      expect(status).toBe(403)
      expect((await server.container.apikeys.list(owner)).length).toBe(before)
    })
  })

  it('refuses a form post without the CSRF token', async () => {
    await withScreenshots('keys-csrf', async (page) => {
      await signIn(page)
      const status = await page.evaluate(
        async () =>
          (await fetch('/account/keys', { method: 'POST', body: new URLSearchParams({ name: 'x', level: 'LOW' }) }))
            .status,
      )
      expect(status).toBe(403)
      // and the pages with secrets are never cached
      const res = await page.request.get('/account/keys')
      expect(res.headers()['cache-control']).toBe('no-store')
    })
  })

  it('offers only the scopes the user holds, with descriptions; a management scope asks for a fresh second factor', async () => {
    await withScreenshots('keys-holdings', async (page) => {
      await signIn(page, 'max@example.com')
      const owner = { type: 'user' as const, id: (await server.container.users.findByEmail('max@example.com'))!.id }
      const offered = await page
        .locator('input[name=scopes]')
        .evaluateAll((els) => els.map((e) => (e as unknown as { value: string }).value))
      expect(offered.sort()).toEqual(['apikeys:manage', 'orders:read'])
      expect(await page.getByLabel('orders:read').getAttribute('aria-describedby')).toBeTruthy()
      const readHint = page.locator(`#${await page.getByLabel('orders:read').getAttribute('aria-describedby')}`)
      expect(await readHint.textContent()).toContain('Read the orders of your team')
      const manageHint = page.locator(`#${await page.getByLabel('apikeys:manage').getAttribute('aria-describedby')}`)
      expect(await manageHint.textContent()).toContain('Issue, rotate and revoke your own API keys')

      // A resource scope needs no step-up.
      await page.getByLabel('Name', { exact: true }).fill('reports')
      await page.getByLabel('orders:read').check()
      await page.getByRole('button', { name: 'Create key' }).click()
      expect(await page.getByLabel('API key').inputValue()).toMatch(/^pcs_/)

      // Right after a sign-in with the second factor, a management scope needs no code.
      await page.getByRole('link', { name: 'Back to your API keys' }).click()
      await page.getByLabel('Name', { exact: true }).fill('fresh manager')
      await page.getByLabel('apikeys:manage').check()
      await page.getByRole('button', { name: 'Create key' }).click()
      expect(await page.getByLabel('API key').inputValue()).toMatch(/^pcs_/)

      // The sign-in with the second factor is no longer fresh (as 10 minutes later).
      await server.container.db.userSession.updateMany({
        where: { userId: owner.id },
        data: { createdAt: new Date(Date.now() - 10 * 60_000) },
      })
      await page.goto('/account/keys')
      const before = (await server.container.apikeys.list(owner)).length
      await page.getByLabel('Name', { exact: true }).fill('key manager')
      await page.getByLabel('apikeys:manage').check()
      await page.getByRole('button', { name: 'Create key' }).click()
      expect(await page.locator('#second-factor-error').textContent()).toContain('apikeys:manage is a management scope')
      await page.getByLabel('Second factor (for management scopes)').fill('000000')
      await page.getByLabel('apikeys:manage').check()
      await page.getByRole('button', { name: 'Create key' }).click()
      expect(await page.locator('#second-factor-error').textContent()).toContain('That code is not correct')
      expect((await server.container.apikeys.list(owner)).length).toBe(before)

      // The next code from the app (the sign-in's own code is spent) lets the key through.
      await page
        .getByLabel('Second factor (for management scopes)')
        .fill(await generate({ secret: MAX_TOTP, epoch: Math.floor(Date.now() / 1000) + 30 }))
      await page.getByLabel('apikeys:manage').check()
      await page.getByRole('button', { name: 'Create key' }).click()
      expect(await page.getByLabel('API key').inputValue()).toMatch(/^pcs_/)
      const keys = await server.container.apikeys.list(owner)
      expect(keys.length).toBe(before + 1)
      expect(keys.find((k) => k.name === 'key manager')?.scopes).toEqual(['apikeys:manage'])
      const checks = await server.container.audit.list({ action: 'mfa.verify', actor: owner.id })
      expect(
        checks
          .filter((e) => (e.details as { purpose?: string } | null)?.purpose === 'apikey.management_scope')
          .map((e) => e.outcome)
          .sort(),
      ).toEqual(['failure', 'success'])
    })
  })
})
