import fs from 'node:fs'
import { chromium, type Browser, type BrowserContext } from 'playwright-core'
import { startTestServer, type TestServer } from './server.ts'
import { startSmtp, type TestSmtp } from './smtp.ts'

/** Debian's Chromium, driven by playwright-core (no browser download; .ci/run installs it). */
export const CHROMIUM = '/usr/bin/chromium'

/** True when the browser is not installed; the suite then skips, saying why once per file. */
export function chromiumMissing(): boolean {
  const missing = !fs.existsSync(CHROMIUM)
  if (missing) console.warn(`browser suite skipped: ${CHROMIUM} is not installed (apt-get install chromium)`)
  return missing
}

/** A headless Chromium for one suite. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless'] })
}

/**
 * A browser suite whose portcullis sends mail: a real SMTP server (smtp.ts), portcullis
 * configured to send through it as "Acme ID" <id@acme.example> (plus `env`), and Chromium.
 * `newContext()` opens a fresh browser profile on the server, closing the one before;
 * `close()` ends all of it, in reverse order, and is safe after a failed start.
 */
export interface MailingSuite {
  server: TestServer
  mx: TestSmtp
  browser: Browser
  newContext(): Promise<BrowserContext>
  close(): Promise<void>
}

export async function startMailingSuite(env: Record<string, string> = {}): Promise<MailingSuite> {
  const mx = await startSmtp()
  let server: TestServer | undefined
  let browser: Browser | undefined
  let context: BrowserContext | undefined
  const close = async () => {
    await context?.close().catch(() => undefined)
    await browser?.close()
    await server?.close()
    await mx.close()
  }
  try {
    server = await startTestServer({
      env: {
        SMTP_URL: mx.url,
        SMTP_REQUIRE_STARTTLS: 'false',
        MAIL_FROM: 'id@acme.example',
        PRODUCT_NAME: 'Acme ID',
        ...env,
      },
    })
    browser = await launchChromium()
  } catch (err) {
    await close()
    throw err
  }
  const started = { server, browser }
  return {
    ...started,
    mx,
    async newContext() {
      await context?.close().catch(() => undefined)
      context = await started.browser.newContext({ baseURL: started.server.url })
      return context
    },
    close,
  }
}
