import path from 'node:path'
import type { Config } from '../config/env.ts'
import type { Keyring } from '../crypto/envelope.ts'
import type { Db } from '../db/client.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import type { FeatureModule } from '../module.ts'
import { mailQueries } from './queries.ts'
import { mailService } from './service.ts'
import { fileTransport, smtpTransport } from './transport.ts'

export interface MailModuleDeps {
  config: Readonly<Config>
  db: Db
  ring: Keyring
  logger: Logger
  metrics: Pick<Metrics, 'mails' | 'mailOutboxPending' | 'gaugeSource'>
}

/**
 * Outgoing mail (issue 14 §1): SMTP_URL, else .eml files in DATA_DIR/mail; always through the
 * outbox. Only servers deliver (`startMail`); every process may queue.
 */
export function mailModule(deps: MailModuleDeps) {
  const { config, logger, metrics } = deps
  const mail = mailService({
    queries: mailQueries(deps.db),
    transport: config.SMTP_URL
      ? smtpTransport({
          url: config.SMTP_URL,
          requireStartTls: config.SMTP_REQUIRE_STARTTLS,
          rejectUnauthorized: config.SMTP_TLS_REJECT_UNAUTHORIZED,
        })
      : fileTransport(path.join(config.DATA_DIR, 'mail')),
    ring: deps.ring,
    logger,
    options: {
      from: config.MAIL_FROM ?? `${config.PRODUCT_NAME} <no-reply@${new URL(config.PUBLIC_URL).hostname}>`,
      maxAttempts: config.MAIL_MAX_ATTEMPTS,
    },
    onOutcome: (kind, outcome) => metrics.mails.inc({ kind, outcome }),
  })
  metrics.gaugeSource(metrics.mailOutboxPending, async () => metrics.mailOutboxPending.set(await mail.pending()))
  return {
    mail,
    /** Delivers queued mail in the background; without SMTP_URL says loudly where mails go. */
    startDelivery() {
      if (!config.SMTP_URL)
        logger.warn(
          { dir: path.join(config.DATA_DIR, 'mail') },
          'SMTP_URL is not set: mails (password reset links, ...) are NOT sent but written as .eml files to DATA_DIR/mail. Set SMTP_URL and MAIL_FROM to send them.',
        )
      else logger.info({ transport: mail.transport }, 'outgoing mail enabled')
      mail.start()
    },
    stop: () => mail.stop(),
  } satisfies FeatureModule
}
