import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { LOCALES, t, tHtml, withLocale, supported } from '../../../src/views/i18n.ts'
import {
  loginPage,
  changePasswordPage,
  consentPage,
  logoutPage,
  loggedOutPage,
  deviceInputPage,
  deviceConfirmPage,
  deviceSuccessPage,
  switchAccount,
} from '../../../src/oidc/interactions/views.ts'
import { codesPage, enrolPage, lockedMessage, mfaPage } from '../../../src/oidc/interactions/mfa-views.ts'
import { accountCodesPage, accountPage, accountTotpPage, signedOutPage } from '../../../src/views/account.ts'
import { accountKeysPage, keySecretPage, revokeKeyPage } from '../../../src/views/account-keys.ts'
import {
  changedPage,
  changeTakenPage,
  confirmChangePage,
  verifiedPage,
  verifyEmailPage,
  verifyInvalidPage,
} from '../../../src/views/email-verification.ts'
import {
  forgotPasswordPage,
  resetDonePage,
  resetInvalidPage,
  resetLimitedPage,
  resetPasswordPage,
  resetRequestedPage,
} from '../../../src/views/password-reset.ts'
import { explainedErrorPage } from '../../../src/views/errors.ts'
import { emailChangedNotice, passwordResetMail, verifyEmailMail } from '../../../src/mail/templates.ts'
import {
  accountExistsMail,
  invitationMail,
  securityNotice,
  type NoticeKind,
} from '../../../src/mail/account-templates.ts'
import { registeredPage, registerPage, verifyFirstPage } from '../../../src/views/registration.ts'
import { linkPage, providerButtons, refusedPage } from '../../../src/federation/pages.ts'
import { REFUSAL_MESSAGES, type RefusalReason } from '../../../src/federation/errors.ts'
import { describeOrigin } from '../../../src/identity/security-notices.ts'
import { passwordProblems } from '../../../src/identity/password-policy.ts'
import { brandCss } from '../../../src/views/brand.ts'
import { loadConfig } from '../../../src/config/env.ts'

/**
 * The translation machinery (issue 14 §7): every catalogue has exactly English's keys and
 * placeholders, every key the code names exists, and every page and mail rendered in German
 * carries none of the English catalogue's sentences (so no template kept hard-coded English).
 */
const root = path.resolve(import.meta.dirname, '../../..')
const read = (lang: string) =>
  JSON.parse(fs.readFileSync(path.join(root, 'locales', `${lang}.json`), 'utf8')) as Record<string, unknown>
function flatten(o: Record<string, unknown>, prefix = ''): Map<string, string> {
  const out = new Map<string, string>()
  for (const [k, v] of Object.entries(o)) {
    if (v && typeof v === 'object')
      for (const [kk, vv] of flatten(v as Record<string, unknown>, `${prefix}${k}.`)) out.set(kk, vv)
    else out.set(prefix + k, String(v))
  }
  return out
}
const en = flatten(read('en'))
const placeholders = (s: string) => [...s.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]).sort()

describe('catalogues', () => {
  it('ships English and at least one other language', () => {
    expect(LOCALES[0]).toBe('en')
    expect(LOCALES).toContain('de')
  })

  for (const lang of LOCALES.filter((l) => l !== 'en')) {
    it(`${lang}: exactly the keys of en, each with the same placeholders and markup tags, none left empty`, () => {
      const other = flatten(read(lang))
      // A language with more plural forms than English may add them (`_few`, `_many`, ...) to a
      // key English has in `_one`/`_other`; nothing else may be extra.
      const extraPlural = (k: string) => /_(zero|two|few|many)$/.test(k) && en.has(k.replace(/_\w+$/, '_other'))
      expect(
        [...other.keys()].filter((k) => !en.has(k) && !extraPlural(k)),
        'keys not in en.json',
      ).toEqual([])
      expect(
        [...en.keys()].filter((k) => !other.has(k)),
        'keys missing',
      ).toEqual([])
      for (const [k, v] of en) {
        if (!other.has(k)) continue
        expect(placeholders(other.get(k)!), `${lang}:${k} placeholders`).toEqual(placeholders(v))
        expect((other.get(k)!.match(/<\/?\w+/g) ?? []).sort(), `${lang}:${k} markup`).toEqual(
          (v.match(/<\/?\w+/g) ?? []).sort(),
        )
        expect(other.get(k)!.trim(), `${lang}:${k}`).not.toBe('')
      }
    })
  }

  it('every key the code names (t, tHtml, and catalogue keys used as zod messages) is in en.json', () => {
    const files = fs
      .readdirSync(path.join(root, 'src'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && !f.startsWith('generated'))
    const missing: string[] = []
    for (const f of files) {
      const text = fs.readFileSync(path.join(root, 'src', f), 'utf8')
      const keys = [
        ...[...text.matchAll(/\bt(?:Html)?\('([\w.:-]+)'/g)].map((m) => m[1]!),
        ...[...text.matchAll(/'((?:form\.|keys\.levelRule\.|password\.controlChars)[\w.]*)'/g)].map((m) => m[1]!),
      ]
      for (const k of keys) if (!en.has(k) && !en.has(`${k}_other`)) missing.push(`${f}: ${k}`)
    }
    expect(missing).toEqual([])
  })
})

describe('t', () => {
  it('interpolates, pluralises, names the product, and falls back to English', () => {
    expect(t('login.locked', { count: 1 })).toContain('1 minute;')
    expect(t('login.locked', { count: 5 })).toContain('5 minutes;')
    expect(withLocale('de', () => t('login.locked', { count: 5 }))).toContain('5 Minuten')
    expect(withLocale('de', () => t('mail.reset.subject'), { product: 'Acme ID' })).toBe(
      'Ihr Acme ID-Passwort zurücksetzen',
    )
    expect(withLocale('xx', () => t('login.title'))).toBe('Sign in')
  })

  it('t returns text the html tag escapes; tHtml keeps the catalogue markup and escapes the values', () => {
    expect(t('login.toContinue', { client: '<b>x</b>' })).toBe('to continue to <strong><b>x</b></strong>')
    expect(tHtml('login.toContinue', { client: '<b>x</b>' }).value).toBe(
      'to continue to <strong>&lt;b&gt;x&lt;/b&gt;</strong>',
    )
    expect(loginPage({ uid: 'u', csrf: 'c', clientName: '<script>alert(1)</script>' })).not.toContain('<script>alert')
  })

  it('language tags: exact, by primary subtag, case-insensitive; nothing else', () => {
    expect(supported('de-AT')).toBe('de')
    expect(supported('DE')).toBe('de')
    expect(supported('en')).toBe('en')
    expect(supported('fr')).toBeUndefined()
    expect(supported('')).toBeUndefined()
  })
})

const NOTICE_KINDS: NoticeKind[] = [
  'new_device',
  'password_changed',
  'mfa_added',
  'mfa_removed',
  'api_key_created',
  'account_locked',
]
const REFUSAL_REASONS = Object.keys(REFUSAL_MESSAGES) as RefusalReason[]

/** Every page and mail, in whichever language is current. */
function everything(): string[] {
  const now = new Date('2026-12-02T10:00:00Z')
  const factors = [
    { id: 'f1', type: 'totp' as const, name: 'Phone', createdAt: now, lastUsedAt: null, deviceType: null },
  ]
  const key = {
    id: 'abcdefabcdefabcd',
    name: 'ci',
    scopes: ['authz:check'],
    level: 'LOW',
    status: 'active',
    createdAt: now,
    expiresAt: now,
    lastUsedAt: now,
    lastUsedIp: '10.0.0.1',
    allowedIps: ['10.0.0.0/8'],
    signing: 'hmac-sha256',
  }
  const brand = { product: 'Acme ID', supportUrl: 'https://help.acme.example' }
  const mails = [
    passwordResetMail(brand, {
      to: 'a@example.com',
      link: 'https://id.example/password/reset?token=x',
      ttlSeconds: 1800,
    }),
    verifyEmailMail(brand, {
      to: 'a@example.com',
      link: 'https://id.example/email/verify?token=x',
      ttlSeconds: 86400,
      change: false,
    }),
    verifyEmailMail(brand, {
      to: 'a@example.com',
      link: 'https://id.example/email/change?token=x',
      ttlSeconds: 7200,
      change: true,
    }),
    emailChangedNotice(brand, { to: 'a@example.com', newEmail: 'b@example.com' }),
    accountExistsMail(brand, {
      to: 'a@example.com',
      signInUrl: 'https://id.example/account',
      resetUrl: 'https://id.example/password/forgot',
    }),
    invitationMail(brand, {
      to: 'a@example.com',
      link: 'https://id.example/password/reset?token=x',
      ttlSeconds: 7 * 86400,
    }),
    ...NOTICE_KINDS.flatMap((kind) => [
      securityNotice(brand, {
        to: 'a@example.com',
        kind,
        when: now,
        resetUrl: 'https://id.example/password/forgot',
        accountUrl: 'https://id.example/account',
      }),
      securityNotice(brand, {
        to: 'a@example.com',
        kind,
        detail: 'ci',
        when: now,
        from: describeOrigin('Mozilla/5.0 (X11; Linux x86_64) Chrome/120', '10.0.0.1'),
        resetUrl: 'https://id.example/password/forgot',
        accountUrl: 'https://id.example/account',
      }),
    ]),
  ].flatMap((m) => [m.subject, m.text, m.html])
  return [
    loginPage({
      uid: 'u',
      csrf: 'c',
      clientName: 'Shop',
      notice: t('login.sessionEnded'),
      error: t('login.wrongCredentials'),
      signedInAs: 'a@example.com',
    }),
    switchAccount({ uid: 'u', csrf: 'c', email: 'a@example.com', pending: true }).value,
    changePasswordPage({ uid: 'u', csrf: 'c', minLength: 12, errors: passwordProblems('short', { minLength: 12 }) }),
    changePasswordPage({
      uid: 'u',
      csrf: 'c',
      minLength: 12,
      errors: passwordProblems('password1234', { minLength: 12 }),
    }),
    consentPage({
      uid: 'u',
      csrf: 'c',
      clientName: 'Shop',
      scopes: [{ scope: 'openid', description: t('scope.openid') }, { scope: 'custom' }],
      claims: ['email'],
      resources: [['https://api.example', [{ scope: 'x:read' }]]],
      signedInAs: 'a@example.com',
    }),
    logoutPage({ form: '<form id="op.logoutForm"></form>', host: 'id.example' }),
    loggedOutPage('Shop'),
    deviceInputPage({ form: '<form id="op.deviceInputForm"></form>', error: t('device.codeInvalid') }),
    deviceInputPage({ form: '<form id="op.deviceInputForm"></form>' }),
    deviceConfirmPage({ form: '<form id="op.deviceConfirmForm"></form>', clientName: 'TV', userCode: 'ABCD-EFGH' }),
    deviceSuccessPage('TV'),
    mfaPage({
      uid: 'u',
      csrf: 'c',
      hasTotp: true,
      hasPasskey: true,
      notice: t('mfa.requiredForAll'),
      error: t('mfa.codeWrong'),
      recoveryError: t('mfa.recoveryWrong'),
      email: 'a@example.com',
    }),
    enrolPage({
      uid: 'u',
      csrf: 'c',
      qr: 'data:image/png;base64,AA',
      secret: 'JBSWY3DPEHPK3PXP',
      error: t('enrol.codeWrong'),
      reason: t('mfa.required'),
    }),
    codesPage({ uid: 'u', csrf: 'c', codes: ['aaaa-bbbb'] }),
    codesPage({ uid: 'u', csrf: 'c' }),
    lockedMessage(120),
    accountPage({
      csrf: 'c',
      user: { email: 'a@example.com', name: 'Ann', emailVerified: false },
      factors,
      recoveryLeft: 9,
      sessions: [
        {
          id: 's1',
          current: true,
          userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120',
          ip: '10.0.0.1',
          createdAt: now,
          lastSeenAt: now,
          amr: ['pwd'],
        },
        { id: 's2', current: false, userAgent: null, ip: null, createdAt: now, lastSeenAt: now, amr: ['pwd'] },
      ],
      events: [
        { time: now, action: 'login', outcome: 'success', ip: '10.0.0.1', details: {} },
        { time: now, action: 'password.changed', outcome: 'failure', ip: null, details: {} },
      ],
      notice: t('account.notice.password'),
      errors: {
        profile: t('form.atMost200'),
        password: [t('password.mismatch')],
        factor: t('account.factorName'),
        email: t('form.emailInvalid'),
      },
      minLength: 12,
    }),
    accountPage({
      csrf: 'c',
      user: { email: 'a@example.com', name: null, emailVerified: true },
      factors: [],
      recoveryLeft: 0,
      sessions: [],
      events: [],
      minLength: 12,
    }),
    accountTotpPage({
      csrf: 'c',
      qr: 'data:image/png;base64,AA',
      secret: 'JBSWY3DPEHPK3PXP',
      error: t('enrol.codeWrong'),
    }),
    accountCodesPage({ codes: ['aaaa-bbbb'] }),
    signedOutPage(true),
    signedOutPage(false),
    accountKeysPage({
      csrf: 'c',
      keys: [key, { ...key, status: 'rotated' }, { ...key, status: 'pending_approval', lastUsedAt: null }],
      grantable: [
        { name: 'authz:check', description: t('scope.authz:check'), management: false },
        { name: 'x', management: true },
      ],
      stepUp: true,
      levels: [
        { name: 'LOW', maxDays: 365, rule: t('keys.levelRule.optional') },
        { name: 'HIGH', maxDays: 90, rule: t('keys.levelRule.high') },
      ],
      notice: t('keys.notice.revoked'),
      errors: {
        name: t('keys.error.nameMissing'),
        scopes: t('keys.error.scopeNotHeld'),
        level: t('keys.error.level'),
        days: t('keys.error.days'),
        allowed_ips: t('keys.error.needsIps', { level: 'HIGH' }),
        rate_limit: t('keys.error.rateLimit'),
        signing: t('keys.error.needsSigning', { level: 'CRITICAL' }),
        second_factor: t('keys.error.stepUp', { scopes: 'admin', count: 1 }),
      },
    }),
    accountKeysPage({ csrf: 'c', keys: [], grantable: [], levels: [] }),
    keySecretPage({
      title: t('keys.secret.newTitle'),
      key: 'pcs_x',
      signingSecret: 's',
      name: 'ci',
      note: t('keys.secret.pending'),
    }),
    revokeKeyPage({ csrf: 'c', id: 'abcdefabcdefabcd', name: 'ci' }),
    verifyEmailPage({ token: 'x', email: 'a@example.com' }),
    verifyInvalidPage(),
    verifiedPage('a@example.com'),
    confirmChangePage({ token: 'x', from: 'a@example.com', to: 'b@example.com' }),
    changedPage('b@example.com'),
    changeTakenPage(),
    forgotPasswordPage({ interaction: 'u', email: 'x', error: t('form.emailInvalid') }),
    resetRequestedPage({ email: 'a@example.com', ttlMinutes: 30, interaction: 'u' }),
    resetLimitedPage(600),
    resetPasswordPage({ token: 'x', email: 'a@example.com', minLength: 12, errors: [t('password.mismatch')] }),
    resetInvalidPage(),
    resetDonePage({ sessionsEnded: true }),
    explainedErrorPage({ status: 400, code: 'csrf', message: 'the form expired' }),
    explainedErrorPage({
      status: 400,
      code: 'SessionNotFound',
      message: 'interaction session not found',
      app: { name: 'Shop', uri: 'https://shop.example' },
    }),
    explainedErrorPage({ status: 400, code: 'something_new', message: 'a detail' }),
    explainedErrorPage({ status: 500, code: 'server_error', message: 'internal server error' }),
    explainedErrorPage({ status: 503, code: 'temporarily_unavailable', message: 'down' }),
    explainedErrorPage({ status: 429, code: 'rate_limited', message: 'slow down' }),
    explainedErrorPage({
      status: 503,
      code: 'federation_unavailable',
      message: 'Corp SSO cannot be reached right now',
    }),
    explainedErrorPage({
      status: 404,
      code: 'federation_unknown_provider',
      message: 'this sign-in option is not available',
    }),
    // self-registration (issue 14 §4) and sign-in through upstream providers (§6)
    loginPage({
      uid: 'u',
      csrf: 'c',
      clientName: 'Shop',
      registration: true,
      providers: [{ alias: 'corp', displayName: 'Corp SSO' }],
    }),
    providerButtons({ uid: 'u', csrf: 'c', providers: [{ alias: 'corp', displayName: 'Corp SSO' }] }).value,
    registerPage({
      product: 'Acme ID',
      interaction: 'u',
      email: 'a@example.com',
      name: 'Ann',
      minLength: 12,
      challenge: { pow_challenge: 'x', pow_bits: '8' },
      scripts: [],
      domains: ['acme.example'],
      errors: {
        email: t('register.domainNotAllowed'),
        password: t('password.mismatch'),
        form: t('register.challengeFailed'),
      },
    }),
    registerPage({
      product: 'Acme ID',
      minLength: 1,
      challenge: {},
      scripts: [],
      domains: [],
      errors: { form: t('register.nameTooLong') },
    }),
    registerPage({
      product: 'Acme ID',
      minLength: 12,
      challenge: {},
      scripts: [],
      domains: [],
      errors: { form: t('register.nameControlChars') },
    }),
    registeredPage({ email: 'a@example.com', interaction: 'u' }),
    verifyFirstPage({ uid: 'u', csrf: 'c', email: 'a@example.com', notice: t('register.resent') }),
    verifyFirstPage({ uid: 'u', csrf: 'c', email: 'a@example.com', notice: t('register.resendLimited') }),
    verifyFirstPage({ uid: 'u', csrf: 'c', email: 'a@example.com', notice: t('register.notVerifiedYet') }),
    linkPage({
      uid: 'u',
      csrf: 'c',
      providerName: 'Corp SSO',
      email: 'a@example.com',
      hasTotp: true,
      error: t('federation.passwordWrong'),
    }),
    linkPage({
      uid: 'u',
      csrf: 'c',
      providerName: 'Corp SSO',
      email: 'a@example.com',
      hasTotp: true,
      error: t('federation.codeWrong'),
    }),
    linkPage({
      uid: 'u',
      csrf: 'c',
      providerName: 'Corp SSO',
      email: 'a@example.com',
      hasTotp: false,
      error: t('federation.tooMany'),
    }),
    ...REFUSAL_REASONS.map((reason) => refusedPage({ uid: 'u', providerName: 'Corp SSO', reason })),
    refusedPage({ reason: 'state_mismatch' }),
    ...mails,
  ]
}

/**
 * The English sentences that must not appear in another language: every catalogue text whose
 * translation differs, cut at its placeholders and markup, pieces of 14 characters or more.
 */
function englishSentences(lang: string): string[] {
  const other = flatten(read(lang))
  const out = new Set<string>()
  for (const [k, v] of en) {
    if (other.get(k) === v) continue
    for (const piece of v.split(/\{\{\w+\}\}|<[^>]+>|&lt;|&gt;/)) {
      const s = piece.trim()
      if (s.length >= 14 && !other.get(k)!.includes(s)) out.add(s)
    }
  }
  return [...out]
}

describe('pages and mails in every other language', () => {
  it.each(LOCALES.filter((l) => l !== 'en'))('%s: carry their lang and none of the English sentences', (lang) => {
    const rendered = withLocale(lang, everything, { product: 'Acme ID', supportUrl: 'https://help.acme.example' })
    const sentences = englishSentences(lang)
    expect(sentences.length).toBeGreaterThan(150)
    const found: string[] = []
    rendered.forEach((text, i) => {
      if (/<html/.test(text)) expect(text, `page ${i}`).toContain(`<html lang="${lang}">`)
      // the html tag escapes apostrophes and quotes; compare like with like
      const plain = text
        .replace(/&#39;/g, "'")
        .replace(/&quot;/g, '"')
        .replace(/&amp;/g, '&')
      for (const s of sentences) if (plain.includes(s)) found.push(`page ${i}: ${s}`)
    })
    expect(found).toEqual([])
    // and the English rendering does contain them (the check would notice a regression)
    const english = withLocale('en', everything)
      .join('\n')
      .replace(/&#39;/g, "'")
      .replace(/&quot;/g, '"')
    expect(english).toContain('Forgot password?')
    expect(english).toContain('Reset your Acme ID password')
    expect(english).toContain('Someone tried to sign up for Acme ID with your address')
    expect(english).toContain('Sign in with Corp SSO')
    // words too short for the sentence check, on the pages h-fed and h-signup added
    if (lang === 'de') {
      const german = rendered.join('\n')
      for (const s of [
        'Mit Corp SSO anmelden',
        'id="create-account">Konto erstellen',
        'Konto verknüpfen',
        'Link erneut senden',
        'Neue Anmeldung',
        'Chrome unter Linux, Netz 10.0.0.0/24',
      ])
        expect(german).toContain(s)
      for (const s of [
        '>Create account<',
        '>Sign in with ',
        '>or<',
        'Link your account',
        'New sign-in',
        ' on Linux',
        'network 10.',
      ])
        expect(german).not.toContain(s)
    }
  })

  it('the error page of an unknown problem says so in German and folds the English detail away', () => {
    const page = withLocale('de', () => explainedErrorPage({ status: 400, code: 'something_new', message: 'a detail' }))
    expect(page).toContain('Anfrage nicht angenommen')
    expect(page).toMatch(/<details class="detail">[\s\S]*something_new: a detail/)
    expect(page).toContain('href="/account"')
    const withApp = withLocale('de', () =>
      explainedErrorPage({
        status: 400,
        code: 'SessionNotFound', // oidc-provider's error name, as provider.ts and the error middleware pass it
        message: 'interaction session not found',
        app: { name: 'Shop', uri: 'https://shop.example/' },
      }),
    )
    expect(withApp).toContain('<a href="https://shop.example/">Zurück zu Shop</a>')
    expect(withApp).toContain('in einem anderen Browser begonnen')
  })
})

describe('branding settings', () => {
  it('colours become CSS variables; bad values fail at start naming the variable', () => {
    expect(brandCss({ product: 'x', primaryColor: '#aa3300', backgroundColor: '#fff' })).toBe(
      ':root { --accent: #aa3300; --bg: #fff; }\n',
    )
    const base = { PORTCULLIS_MASTER_KEY: 'x'.repeat(44) }
    expect(() => loadConfig({ ...base, BRAND_PRIMARY_COLOR: 'red; } body { display:none' })).toThrow(
      /BRAND_PRIMARY_COLOR: must be a hex colour/,
    )
    expect(() => loadConfig({ ...base, BRAND_BACKGROUND_COLOR: '#12345' })).toThrow(/BRAND_BACKGROUND_COLOR/)
    expect(() => loadConfig({ ...base, BRAND_LOGO_URL: 'javascript:alert(1)' })).toThrow(/BRAND_LOGO_URL/)
    expect(() => loadConfig({ ...base, BRAND_SUPPORT_URL: 'ftp://x' })).toThrow(/BRAND_SUPPORT_URL/)
    const ok = loadConfig({
      ...base,
      BRAND_PRIMARY_COLOR: '#AA3300',
      BRAND_SUPPORT_URL: 'mailto:help@acme.example',
      BRAND_LOGO_URL: 'https://cdn.acme.example/logo.svg',
    })
    expect(ok.BRAND_SUPPORT_URL).toBe('mailto:help@acme.example')
  })
})
