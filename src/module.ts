/**
 * What every feature module (src/<feature>/module.ts) gives the composition root besides its
 * services: background work to start, in start order, and to stop, in reverse order, when the
 * container closes. A module builds its queries, services, metric gauges and compliance-report
 * providers from the narrow dependencies it declares; it never sees the container.
 */
export interface Lifecycle {
  /** Starts background work (subscriptions, timers); the container calls it in start order. */
  start?(): Promise<void> | void
  /** Stops that work and flushes what is pending; called in reverse start order by close(). */
  stop?(): Promise<void> | void
}

/** A feature module: its services and whatever else it offers the root, plus its lifecycle. */
export type FeatureModule = Lifecycle & Record<string, unknown>

/** The named members of a module, for the container's public shape (never its start/stop). */
export function pick<M extends object, K extends Exclude<keyof M, 'start' | 'stop'>>(m: M, ...keys: K[]): Pick<M, K> {
  return Object.fromEntries(keys.map((k) => [k, m[k]])) as Pick<M, K>
}
