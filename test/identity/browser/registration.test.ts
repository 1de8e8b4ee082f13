import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { linkIn } from '../../helpers/smtp.ts'
import { chromiumMissing, startMailingSuite, type MailingSuite } from '../../helpers/browser.ts'

/**
 * Self-registration in a real Chromium (issue 14 §4): from the sign-in page's "Create account"
 * link to the form (its errors, and the proof of work the page's script solves), the
 * verification mail (a real SMTP server), the verify-first page at sign-in, and the account
 * page once the address is verified. Saves a screenshot when it fails.
 */
const missing = chromiumMissing()
const shots = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-browser-'))
const PASSWORD = 'copper kettle whistles twice'

describe.skipIf(missing)('self-registration in a real browser', () => {
  let suite: MailingSuite

  beforeAll(async () => {
    suite = await startMailingSuite({
      REGISTRATION_ENABLED: 'true',
      REGISTRATION_ALLOWED_DOMAINS: 'example.com',
      REGISTRATION_POW_BITS: '14',
    })
  })
  afterAll(() => suite?.close())

  it('"Create account" -> form (errors, proof of work) -> mail -> verify-first at sign-in -> verified -> signed in', async () => {
    const context = await suite.newContext()
    const page = await context.newPage()
    try {
      await page.goto('/account')
      expect(page.url()).toContain('/interaction/')
      const signIn = page.url()
      await page.getByRole('link', { name: 'Create account' }).click()
      await page.waitForURL(/\/register\?interaction=/)
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Create your Acme ID account')

      await page.getByLabel('Email').fill('zoe@elsewhere.test')
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD)
      await page.getByLabel('Repeat the password').fill(PASSWORD)
      await page.getByRole('button', { name: 'Create account' }).click()
      await expect.poll(() => page.locator('#email-error').textContent()).toContain('this domain')
      expect(await page.getByLabel('Email').getAttribute('aria-describedby')).toBe('email-error')

      await page.getByLabel('Email').fill('zoe@example.com')
      await page.getByLabel('Name (optional)').fill('Zoe')
      await page.getByLabel('Password', { exact: true }).fill('password1234')
      await page.getByLabel('Repeat the password').fill('password1234')
      await page.getByRole('button', { name: 'Create account' }).click()
      await expect.poll(() => page.locator('#password-error').textContent()).toContain('leaked passwords')

      await page.getByLabel('Password', { exact: true }).fill(PASSWORD)
      await page.getByLabel('Repeat the password').fill(PASSWORD)
      await page.getByRole('button', { name: 'Create account' }).click()
      await expect.poll(() => page.locator('#register-done').textContent()).toContain('zoe@example.com')

      // Signing in before the link was followed: the verify-first page, not the account.
      await page.getByRole('link', { name: 'Back to sign in' }).click()
      await page.getByLabel('Email').fill('zoe@example.com')
      await page.getByLabel('Password').fill(PASSWORD)
      await page.getByRole('button', { name: 'Sign in', exact: true }).click()
      await expect.poll(() => page.locator('#verify-first').textContent()).toContain('zoe@example.com')
      await page.getByRole('button', { name: 'Send the link again' }).click()
      await expect.poll(() => page.locator('#verify-notice').textContent()).toContain('A new link is on its way')

      const mail = await suite.mx.waitFor(
        (m) => m.subject === 'Verify your Acme ID email address' && m.text?.includes('zoe@example.com') === true,
      )
      const tab = await context.newPage()
      await tab.goto(linkIn(mail, '/email/verify').href)
      await tab.getByRole('button', { name: 'Verify zoe@example.com' }).click()
      await expect.poll(() => tab.locator('#verify-done').textContent()).toContain('is verified')
      await tab.close()

      await page.getByRole('button', { name: 'I have verified my address: continue' }).click()
      await page.waitForURL(/\/account$/)
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Your account')
      expect(signIn).toContain('/interaction/')
    } catch (err) {
      const file = path.join(shots, 'registration.png')
      await page.screenshot({ path: file, fullPage: true }).catch(() => undefined)
      console.error(`browser test failed; screenshot in ${file}`)
      throw err
    }
  })
})
