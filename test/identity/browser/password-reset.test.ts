import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { linkIn } from '../../helpers/smtp.ts'
import { chromiumMissing, startMailingSuite, type MailingSuite } from '../../helpers/browser.ts'

/**
 * The forgotten-password pages in a real Chromium (issue 14 §3): from the sign-in page's
 * "Forgot password?" link to the mail (a real SMTP server), the new-password form with its
 * errors, and signing in with the new password. Saves a screenshot when it fails.
 */
const missing = chromiumMissing()
const shots = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-browser-'))
const OLD = 'quiet river lamp orbit'
const NEW = 'copper kettle whistles twice'

describe.skipIf(missing)('forgotten password and email verification in a real browser', () => {
  let suite: MailingSuite

  beforeAll(async () => {
    suite = await startMailingSuite()
    await suite.server.container.users.create({ email: 'ria@example.com', password: OLD })
    await suite.server.container.users.create({ email: 'sol@example.com', password: OLD })
  })
  afterAll(() => suite?.close())

  it('"Forgot password?" -> mail -> new password (with its errors) -> sign in with it', async () => {
    const context = await suite.newContext()
    const page = await context.newPage()
    try {
      await page.goto('/account')
      expect(page.url()).toContain('/interaction/')
      const signIn = page.url()
      await page.getByRole('link', { name: 'Forgot password?' }).click()
      await page.waitForURL(/\/password\/forgot/)
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Forgot your password?')
      await page.getByLabel('Email').fill('not an address')
      await page.getByRole('button', { name: 'Send the link' }).click()
      await expect.poll(() => page.locator('#forgot-error').textContent()).toContain('valid email address')
      expect(await page.getByLabel('Email').getAttribute('aria-describedby')).toBe('forgot-error')
      await page.getByLabel('Email').fill('ria@example.com')
      await page.getByRole('button', { name: 'Send the link' }).click()
      await expect.poll(() => page.locator('#reset-requested').textContent()).toContain('ria@example.com')

      const mail = await suite.mx.waitFor((m) => m.text?.includes('ria@example.com') === true)
      expect(mail.subject).toBe('Reset your Acme ID password')
      await page.goto(linkIn(mail, '/password/reset').href)
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Choose a new password')
      await page.getByLabel('New password', { exact: true }).fill(NEW)
      await page.getByLabel('Repeat the new password').fill('something else entirely')
      await page.getByRole('button', { name: 'Save the new password' }).click()
      await expect.poll(() => page.locator('#password-error').textContent()).toContain('do not match')
      await page.getByLabel('New password', { exact: true }).fill(NEW)
      await page.getByLabel('Repeat the new password').fill(NEW)
      await page.getByRole('button', { name: 'Save the new password' }).click()
      await expect.poll(() => page.locator('#reset-done').textContent()).toContain('Sign in with your new password')

      // The half-done sign-in from before still works, now with the new password.
      await page.goto(signIn)
      await page.getByLabel('Email').fill('ria@example.com')
      await page.getByLabel('Password').fill(NEW)
      await page.getByRole('button', { name: 'Sign in', exact: true }).click()
      await page.waitForURL(/\/account$/)
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Your account')
    } catch (err) {
      const file = path.join(shots, 'password-reset.png')
      await page.screenshot({ path: file, fullPage: true }).catch(() => undefined)
      console.error(`browser test failed; screenshot in ${file}`)
      throw err
    }
  })

  it('account page: verify the email address, then change it through a link to the new address', async () => {
    const context = await suite.newContext()
    const page = await context.newPage()
    try {
      await page.goto('/account')
      await page.getByLabel('Email').fill('sol@example.com')
      await page.getByLabel('Password').fill(OLD)
      await page.getByRole('button', { name: 'Sign in', exact: true }).click()
      await page.waitForURL(/\/account$/)
      expect(await page.locator('#email-status').textContent()).toContain('not verified')
      await page.getByRole('button', { name: 'Send a verification link' }).click()
      await expect
        .poll(() => page.getByRole('status').first().textContent())
        .toContain('verification link is on its way')
      const verify = await suite.mx.waitFor(
        (m) => m.subject === 'Verify your Acme ID email address' && m.text?.includes('sol@example.com') === true,
      )
      await page.goto(linkIn(verify, '/email/verify').href)
      await page.getByRole('button', { name: 'Verify sol@example.com' }).click()
      await expect.poll(() => page.locator('#verify-done').textContent()).toContain('is verified')
      await page.goto('/account')
      expect(await page.locator('#email-status').textContent()).toContain('is verified')

      await page.locator('#change-email summary').click()
      await page.getByLabel('New sign-in address').fill('sol@example.net')
      await page.getByLabel('Your password').fill('wrong password')
      await page.getByRole('button', { name: 'Send a confirmation link' }).click()
      await expect.poll(() => page.locator('#email-error').textContent()).toContain('not correct')
      expect(await page.getByLabel('New sign-in address').getAttribute('aria-describedby')).toBe('email-error')
      await page.getByLabel('New sign-in address').fill('sol@example.net')
      await page.getByLabel('Your password').fill(OLD)
      await page.getByRole('button', { name: 'Send a confirmation link' }).click()
      await expect.poll(() => page.getByRole('status').first().textContent()).toContain('on its way to the new address')
      const change = await suite.mx.waitFor((m) => m.subject === 'Confirm your new Acme ID email address')
      await page.goto(linkIn(change, '/email/change').href)
      await page.getByRole('button', { name: 'Use sol@example.net' }).click()
      await expect.poll(() => page.locator('#change-done').textContent()).toContain('sol@example.net')
      await suite.mx.waitFor(
        (m) => m.subject === 'Your Acme ID email address was changed' && m.text?.includes('sol@example.com') === true,
      )
      await page.goto('/account')
      expect(await page.getByLabel('Email', { exact: true }).inputValue()).toBe('sol@example.net')
    } catch (err) {
      const file = path.join(shots, 'account-email.png')
      await page.screenshot({ path: file, fullPage: true }).catch(() => undefined)
      console.error(`browser test failed; screenshot in ${file}`)
      throw err
    }
  })
})
