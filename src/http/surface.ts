import type Router from '@koa/router'
import type { Route } from './contract.ts'

/**
 * What a capability puts on the HTTP surface, declared in its `http.ts` (docs/architecture.md):
 * its JSON API as route contracts (mounted together and described by /openapi.json) and its
 * pages as named routers. src/app.ts composes every feature's surface in the order the routers
 * are tried.
 */
export type HttpSurface<P extends string = never> = {
  routes?: Route[]
} & ([P] extends [never] ? { pages?: undefined } : { pages: Record<P, Router> })
