import fs from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

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
