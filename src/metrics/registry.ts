import client from 'prom-client'

/**
 * The Prometheus metrics of one container (its own registry, so several containers in one
 * process — tests, workers — do not share counters). Features increment what they own:
 *
 *   c.metrics.policyDecisions.inc({ store, outcome: 'allow' })
 *   c.metrics.apiKeysNearExpiry  (a gauge filled from the API-key provider at scrape time)
 *
 * Counters that have an audit event (logins, lockouts, tokens issued, alerts) are fed from the
 * audit log (see audit/observe-metrics.ts): recording the audit event is enough, do not also
 * increment them by hand.
 *
 * Gauges that describe state (signing key age, policy version per store, audit chain length,
 * last checkpoint age, API keys near expiry) are computed when Prometheus scrapes, from
 * sources registered with `gaugeSource`.
 */
export function createMetrics() {
  const registry = new client.Registry()
  client.collectDefaultMetrics({ register: registry })
  const sources = new Map<string, () => Promise<void> | void>()

  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new client.Counter<L>({ name, help, labelNames, registers: [registry] })
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) => {
    const g: client.Gauge<L> = new client.Gauge<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        const source = sources.get(name)
        if (source) await source()
      },
    })
    return g
  }

  const m = {
    registry,
    httpRequests: counter(
      'portcullis_http_requests_total',
      'HTTP requests by method, route (template or coarse class) and status',
      ['method', 'route', 'status'],
    ),
    httpDuration: new client.Histogram({
      name: 'portcullis_http_request_duration_seconds',
      help: 'HTTP request latency by method, route and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    logins: counter('portcullis_logins_total', 'sign-in attempts by outcome and method (pwd, otp, webauthn, ...)', [
      'outcome',
      'method',
    ]),
    lockouts: counter('portcullis_lockouts_total', 'accounts locked after failed attempts'),
    tokensIssued: counter('portcullis_tokens_issued_total', 'token endpoint grants by grant type, client and outcome', [
      'grant_type',
      'client_id',
      'outcome',
    ]),
    policyDecisions: counter(
      'portcullis_policy_decisions_total',
      'policy decisions by store and outcome (allow, deny)',
      ['store', 'outcome'],
    ),
    policyDecisionDuration: new client.Histogram({
      name: 'portcullis_policy_decision_duration_seconds',
      help: 'time the engine spent on one decision, by store',
      labelNames: ['store'] as const,
      buckets: [0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05],
      registers: [registry],
    }),
    policyVersion: gauge('portcullis_policy_version', 'current version of each policy store on this instance', [
      'store',
    ]),
    signingKeyAge: gauge('portcullis_signing_key_age_seconds', 'age of each active signing key', ['alg', 'kid']),
    apiKeysNearExpiry: gauge(
      'portcullis_api_keys_near_expiry',
      'API keys that expire within API_KEY_EXPIRY_WARNING_DAYS',
    ),
    auditRecords: counter('portcullis_audit_records_total', 'audit records written by this instance'),
    auditWriteFailures: counter('portcullis_audit_write_failures_total', 'failed audit batch writes (retried)'),
    auditChainLength: gauge('portcullis_audit_chain_length', 'records in the audit chain (after retention)'),
    auditLastSeq: gauge('portcullis_audit_last_seq', 'sequence number of the newest audit record'),
    auditCheckpointAge: gauge(
      'portcullis_audit_last_checkpoint_age_seconds',
      'age of the newest signed audit checkpoint (absent: none yet)',
    ),
    auditOutboxPending: gauge(
      'portcullis_audit_outbox_pending',
      'audit outbox rows (one per record and target) waiting for webhook or syslog delivery',
    ),
    rateLimited: counter(
      'portcullis_rate_limited_total',
      'requests refused with 429 by the rate limits, by endpoint class',
      ['class'],
    ),
    alerts: counter('portcullis_security_alerts_total', 'security alerts raised by the detectors, by kind', ['kind']),
    // Outgoing mail (src/mail/): attempts by outcome (sent, retry, given_up) and what waits.
    mails: counter(
      'portcullis_mail_deliveries_total',
      'outgoing mail delivery attempts by kind and outcome (sent, retry, given_up)',
      ['kind', 'outcome'],
    ),
    mailOutboxPending: gauge('portcullis_mail_outbox_pending', 'mails waiting in the outbox for delivery'),

    /** Registers how a gauge is computed at scrape time (replaces an earlier source). */
    gaugeSource(g: client.Gauge, fn: () => Promise<void> | void) {
      sources.set((g as unknown as { name: string }).name, fn)
    },
    /** The exposition text and its content type. */
    async scrape() {
      return { contentType: registry.contentType, body: await registry.metrics() }
    },
  }
  return m
}
export type Metrics = ReturnType<typeof createMetrics>
