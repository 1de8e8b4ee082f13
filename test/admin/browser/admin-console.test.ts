import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { generate } from 'otplib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyDocument, validateDocument } from '../../../src/declarative/apply.ts'
import { adminServices, ensureSystemPolicyStore } from '../../../src/admin/service.ts'
import type { AdminRole } from '../../../src/admin/authority.ts'
import { startTestServer, type TestServer } from '../../helpers/server.ts'
import { chromiumMissing, launchChromium } from '../../helpers/browser.ts'

/**
 * The admin console (issue 12 §3) in a real Chromium: sign-in through portcullis's own login
 * with a second factor, users (create with an invitation, search and page 1,000 users), clients
 * (create and copy the secret), a helpdesk operator without the clients page, a user without an
 * admin role refused, signing key rotation (confirmed), an auditor who reads the audit log but
 * cannot rotate keys, a role request approved by another administrator, an access review, and
 * an axe-core accessibility check of every page. Screenshots on failure.
 */
const missing = chromiumMissing()
const PASSWORD = 'quiet river lamp orbit'
const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP'
const shots = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-console-'))
const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

describe.skipIf(missing)('admin console in a real browser', { timeout: 120_000 }, () => {
  let server: TestServer
  let browser: Browser
  const contexts: BrowserContext[] = []

  beforeAll(async () => {
    server = await startTestServer({ env: { LOGIN_FAILURE_DELAY_MS: '0' } })
    // one administrator per test: a TOTP code is accepted once per user (replay protection)
    const people: [string, AdminRole | undefined][] = [
      ...['root', 'root2', 'root3', 'root4'].map((n): [string, AdminRole] => [`${n}@example.com`, 'admin']),
      ['root5@example.com', 'admin'],
      ['root6@example.com', 'admin'],
      ['aud@example.com', 'auditor'],
      ['req@example.com', 'helpdesk'],
      ['desk@example.com', 'helpdesk'],
      ['plain@example.com', undefined],
    ]
    const { doc, problems } = await validateDocument(server.container, {
      users: people.map(([email]) => ({ email, password: PASSWORD, totp_secret: SECRET })),
    })
    expect(problems).toEqual([])
    await applyDocument(server.container, doc!)
    const root = (await server.container.users.findByEmail('root@example.com'))!
    await ensureSystemPolicyStore(server.container, root)
    const admin = adminServices(server.container)
    for (const [email, role] of people) {
      const u = (await server.container.users.findByEmail(email))!
      if (role) await admin.authority.grant({ kind: 'cli' }, { type: 'user', id: u.id }, role)
    }
    // 1,000 users to search and page through
    for (let i = 0; i < 1000; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, (_, j) =>
          server.container.users.create({ email: `bulk${String(i + j).padStart(4, '0')}@people.test` }),
        ),
      )
    }
    browser = await launchChromium()
  }, 180_000)
  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  async function newPage() {
    const context = await browser.newContext({ baseURL: server.url })
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url })
    contexts.push(context)
    return context.newPage()
  }
  async function withScreenshots(name: string, fn: () => Promise<void>) {
    try {
      await fn()
    } catch (err) {
      let i = 0
      for (const ctx of contexts)
        for (const p of ctx.pages())
          await p
            .screenshot({ path: path.join(shots, `${name.replace(/\W+/g, '-')}-${i++}.png`), fullPage: true })
            .catch(() => undefined)
      console.error(`browser test "${name}" failed; screenshots in ${shots}`)
      throw err
    } finally {
      for (const ctx of contexts.splice(0)) await ctx.close().catch(() => undefined)
    }
  }
  /** Password, then the TOTP code. */
  async function signIn(page: Page, email: string) {
    await page.goto('/admin')
    await page.getByLabel('Email').fill(email)
    await page.getByLabel('Password').fill(PASSWORD)
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    const code = page.getByLabel('Code from your authenticator app')
    await code.waitFor()
    await code.fill(await generate({ secret: SECRET, epoch: Math.floor(Date.now() / 1000) }))
    await code.press('Enter')
  }
  async function axe(page: Page) {
    // evaluated over CDP: the page's CSP (script-src 'self') rightly refuses an injected <script>
    await page.evaluate(axeSource)
    const result = await page.evaluate(async () =>
      (
        globalThis as unknown as {
          axe: { run(): Promise<{ violations: { id: string; impact: string; nodes: unknown[] }[] }> }
        }
      ).axe.run(),
    )
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${JSON.stringify(v.nodes).slice(0, 300)}`)
  }

  it('an admin signs in with a second factor and sees every section; the pages pass axe-core', async () => {
    await withScreenshots('admin sign-in', async () => {
      const page = await newPage()
      await signIn(page, 'root@example.com')
      await page.getByRole('heading', { name: 'Dashboard' }).waitFor()
      expect(new URL(page.url()).pathname).toBe('/admin')
      expect(await page.getByRole('banner').textContent()).toContain('root@example.com')
      const nav = page.getByRole('navigation', { name: 'Sections' })
      expect(await nav.getByRole('link').allTextContents()).toEqual([
        'Dashboard',
        'Users',
        'Clients',
        'Admin roles',
        'Role requests',
        'Access reviews',
        'Resources',
        'Signing keys',
        'API keys',
        'Policies',
        'Audit',
      ])
      // the dashboard's audit panels: sign-ins per day (this sign-in among them) and the chain
      await page.getByRole('heading', { name: 'Sign-ins, last 7 days' }).waitFor()
      expect(await page.locator('main').textContent()).toContain('intact')
      const cookies = await page.context().cookies()
      const session = cookies.find((c) => c.name === 'portcullis_console')!
      expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict' })
      expect(await axe(page)).toEqual([])
      // start an access review so its page is checked too
      await page.goto('/admin/reviews')
      await page.getByLabel('Campaign name').fill('Quarterly review')
      await page.getByRole('button', { name: 'Start review' }).click()
      await page.getByRole('heading', { name: 'Quarterly review' }).waitFor()
      const review = new URL(page.url()).pathname
      const someone = (await server.container.users.findByEmail('bulk0002@people.test'))!
      for (const p of [
        '/admin/users',
        '/admin/users/new',
        '/admin/clients',
        '/admin/clients/new',
        '/admin/roles',
        '/admin/role-requests',
        '/admin/reviews',
        review,
        '/admin/resources',
        '/admin/resources/new',
        '/admin/signing-keys',
        '/admin/signing-keys/rotate',
        '/admin/api-keys',
        '/admin/policies',
        '/admin/policies/system',
        '/admin/audit',
        '/admin/audit/report',
        `/admin/users/${someone.id}`,
        `/admin/users/${someone.id}/contain`,
      ]) {
        await page.goto(p)
        expect(await axe(page), p).toEqual([])
      }
      // an access review item is confirmed from its page; the campaign completes when all are decided
      await page.goto(review)
      const pending = page.getByRole('button', { name: /^Confirm / })
      for (let n = await pending.count(); n > 0; n--) {
        await pending.first().click()
        await expect.poll(() => pending.count(), { timeout: 20_000 }).toBe(n - 1)
      }
      await page.getByRole('button', { name: 'Complete review' }).click()
      expect(await page.getByRole('status').textContent()).toContain('Review completed.')
    })
  })

  it('creates a user with an invitation link shown once; inline errors come from the API', async () => {
    await withScreenshots('create user', async () => {
      const page = await newPage()
      await signIn(page, 'root2@example.com')
      await page.getByRole('heading', { name: 'Dashboard' }).waitFor()
      await page.goto('/admin/users/new')
      await page.getByLabel('Email').fill('not-an-email')
      await page.getByRole('button', { name: 'Create user' }).click()
      await expect(await page.getByLabel('Email').getAttribute('aria-invalid')).toBe('true')
      await page.getByLabel('Email').fill('newbie@example.com')
      await page.getByLabel('Name (optional)').fill('New Bie')
      await page.getByRole('button', { name: 'Create user' }).click()
      await page.getByRole('heading', { name: 'Invitation link' }).waitFor()
      const link = await page.getByRole('textbox', { name: 'Invitation link' }).inputValue()
      expect(link).toMatch(new RegExp(`^${server.url}/`))
      expect(await page.getByRole('status').first().textContent()).toContain('newbie@example.com created')
      expect(await axe(page)).toEqual([])
      // shown once
      await page.reload()
      expect(await page.getByRole('heading', { name: 'Invitation link' }).count()).toBe(0)
      expect(await page.locator('body').textContent()).not.toContain(link)
      // a duplicate is an inline error
      await page.goto('/admin/users/new')
      await page.getByLabel('Email').fill('newbie@example.com')
      await page.getByRole('button', { name: 'Create user' }).click()
      expect(await page.locator('#f-email-error').textContent()).toMatch(/exists/)
    })
  })

  it('creates a confidential client and copies its secret with the copy button', async () => {
    await withScreenshots('create client', async () => {
      const page = await newPage()
      await signIn(page, 'root3@example.com')
      await page.getByRole('heading', { name: 'Dashboard' }).waitFor()
      await page.goto('/admin/clients/new')
      await page.getByLabel('Client id').fill('shop')
      await page.getByLabel('Redirect URIs').fill('https://shop.example.com/cb')
      await page.getByRole('button', { name: 'Register client' }).click()
      await page.getByRole('heading', { name: 'Client secret' }).waitFor()
      const secret = await page.getByRole('textbox', { name: 'Client secret' }).inputValue()
      expect(secret.length).toBeGreaterThan(20)
      await page.getByRole('button', { name: 'Copy' }).click()
      await page.getByText('Copied to the clipboard.').waitFor()
      expect(await page.evaluate('navigator.clipboard.readText()')).toBe(secret)
      expect(await axe(page)).toEqual([])
      // the secret works at the token endpoint
      const token = await fetch(`${server.url}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`shop:${secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'grant_type=client_credentials',
      })
      expect(token.status).not.toBe(401)
    })
  })

  it('searches and pages a list of 1,000 users', async () => {
    await withScreenshots('search and page', async () => {
      const page = await newPage()
      await signIn(page, 'root4@example.com')
      await page.getByRole('heading', { name: 'Dashboard' }).waitFor()
      await page.goto('/admin/users?q=people.test')
      const rows = page.locator('#results tbody tr')
      expect(await rows.count()).toBe(25)
      const first = await rows.first().textContent()
      await page.getByRole('link', { name: 'Next page' }).click()
      await page.waitForURL(/cursor=/)
      expect(await rows.count()).toBe(25)
      expect(await rows.first().textContent()).not.toBe(first)
      // typing narrows the list in place (htmx)
      await page.getByLabel('Search by email').fill('bulk0999')
      await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(1)
      expect(await rows.first().textContent()).toContain('bulk0999@people.test')
      expect(page.url()).toContain('q=bulk0999')
    })
  })

  it('a helpdesk operator sees no clients page and can reset a password by email', async () => {
    await withScreenshots('helpdesk', async () => {
      const page = await newPage()
      await signIn(page, 'desk@example.com')
      await page.getByRole('heading', { name: 'Dashboard' }).waitFor()
      const nav = page.getByRole('navigation', { name: 'Sections' })
      expect(await nav.getByRole('link').allTextContents()).toEqual(['Dashboard', 'Users', 'Role requests'])
      const res = await page.goto('/admin/clients')
      expect(res!.status()).toBe(403)
      await page.goto('/admin/users')
      await page.getByRole('heading', { name: 'Account help' }).waitFor()
      await page.getByLabel('User email').fill('bulk0001@people.test')
      await page.getByRole('button', { name: 'Reset password' }).click()
      await page.getByRole('heading', { name: 'Temporary password' }).waitFor()
      expect((await page.getByRole('textbox', { name: 'Temporary password' }).inputValue()).length).toBeGreaterThan(8)
    })
  })

  it('a user without an admin role is refused', async () => {
    await withScreenshots('non-admin', async () => {
      const page = await newPage()
      await signIn(page, 'plain@example.com')
      await page.getByRole('heading', { name: 'Not an administrator' }).waitFor()
      expect((await page.context().cookies()).some((c) => c.name === 'portcullis_console')).toBe(false)
      const res = await page.goto('/admin/users')
      expect(new URL(page.url()).pathname).not.toBe('/admin/users')
      expect(res!.status()).toBeLessThan(500)
    })
  })

  it('rotates the signing keys from the console, after a confirmation', async () => {
    await withScreenshots('rotate keys', async () => {
      const page = await newPage()
      await signIn(page, 'root5@example.com')
      await page.getByRole('heading', { name: 'Dashboard' }).waitFor()
      await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Signing keys' }).click()
      await page.getByRole('heading', { name: 'Signing keys' }).waitFor()
      const before = (await (await fetch(`${server.url}/jwks`)).json()) as { keys: { kid: string }[] }
      await page.getByRole('link', { name: 'Rotate signing keys…' }).click()
      await page.getByRole('heading', { name: 'Rotate the signing keys?' }).waitFor()
      await page.getByRole('button', { name: 'Rotate now' }).click()
      const notice = (await page.getByRole('status').first().textContent())!
      expect(notice).toContain('Signing keys rotated')
      const added = /new: (.+)\./.exec(notice)![1]!.split(', ')
      expect(added.length).toBeGreaterThan(0)
      for (const kid of added) expect(before.keys.map((k) => k.kid)).not.toContain(kid)
      const after = (await (await fetch(`${server.url}/jwks`)).json()) as { keys: { kid: string }[] }
      for (const kid of added) expect(after.keys.map((k) => k.kid)).toContain(kid)
      // the previous keys are still published, now retiring
      for (const k of before.keys) expect(after.keys.map((x) => x.kid)).toContain(k.kid)
      expect(await page.locator('tbody tr', { hasText: 'retiring' }).count()).toBeGreaterThan(0)
      expect(await axe(page)).toEqual([])
    })
  })

  it('an auditor reads the audit log and the report but cannot rotate keys', async () => {
    await withScreenshots('auditor', async () => {
      const page = await newPage()
      await signIn(page, 'aud@example.com')
      await page.getByRole('heading', { name: 'Dashboard' }).waitFor()
      const nav = page.getByRole('navigation', { name: 'Sections' })
      expect(await nav.getByRole('link').allTextContents()).toEqual([
        'Dashboard',
        'Users',
        'Clients',
        'Role requests',
        'Access reviews',
        'Resources',
        'Signing keys',
        'API keys',
        'Policies',
        'Audit',
      ])
      await nav.getByRole('link', { name: 'Audit' }).click()
      await page.getByRole('heading', { name: 'Audit log' }).waitFor()
      await page.getByLabel('Action').fill('login')
      await page.getByRole('button', { name: 'Filter' }).click()
      await page.waitForURL(/action=login/)
      expect(await page.locator('tbody tr').count()).toBeGreaterThan(0)
      for (const row of await page.locator('tbody tr td:nth-child(3)').allTextContents()) expect(row).toBe('login')
      await page.getByRole('link', { name: 'Compliance report' }).click()
      await page.getByRole('heading', { name: 'Compliance report' }).waitFor()
      expect(await page.locator('main').textContent()).toContain('Audit chain')
      await page.goto('/admin/signing-keys')
      expect(await page.getByRole('link', { name: 'Rotate signing keys…' }).count()).toBe(0)
      expect(await page.getByText('You may read the keys but not rotate them.').count()).toBe(1)
      // the confirmation page is reachable by URL; the API refuses the rotation
      await page.goto('/admin/signing-keys/rotate')
      const before = (await (await fetch(`${server.url}/jwks`)).json()) as { keys: unknown[] }
      await page.getByRole('button', { name: 'Rotate now' }).click()
      await page.getByRole('alert').waitFor()
      expect(await page.getByRole('alert').textContent()).toMatch(/not allowed|forbidden|may not/i)
      const after = (await (await fetch(`${server.url}/jwks`)).json()) as { keys: unknown[] }
      expect(after.keys.length).toBe(before.keys.length)
    })
  })

  it('a role request is approved by another administrator', async () => {
    await withScreenshots('role request', async () => {
      const page = await newPage()
      await signIn(page, 'req@example.com')
      await page.getByRole('heading', { name: 'Dashboard' }).waitFor()
      await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Role requests' }).click()
      await page.getByLabel('Role').selectOption('auditor')
      await page.getByLabel('Hours').fill('2')
      await page.getByLabel('Reason').fill('incident 4711: read the audit log')
      await page.getByRole('button', { name: 'Request' }).click()
      expect(await page.getByRole('status').first().textContent()).toContain('Requested auditor for 2 hours')
      // the requester cannot approve their own request
      expect(await page.getByRole('button', { name: /^Approve / }).count()).toBe(0)
      const req = (await server.container.users.findByEmail('req@example.com'))!
      const boss = await newPage()
      await signIn(boss, 'root6@example.com')
      await boss.getByRole('heading', { name: 'Dashboard' }).waitFor()
      await boss.goto('/admin/role-requests')
      await boss.getByRole('button', { name: `Approve auditor for user:${req.id}` }).click()
      expect(await boss.getByRole('status').first().textContent()).toContain('Approved.')
      expect(await boss.locator('tbody tr', { hasText: 'incident 4711' }).textContent()).toContain('active')
      expect(await axe(boss)).toEqual([])
      const { items } = await adminServices(server.container).elevation.list({ kind: 'cli' }, {})
      expect(items.find((r) => r.subject === `user:${req.id}`)?.status).toBe('active')
    })
  })
})
