/**
 * The plain node-casbin side of bench/authz-search.ts, in a worker thread so that a listing
 * call that runs for minutes can be stopped at the deadline: node-casbin's own listing
 * functions (getImplicitUsersForPermission, getImplicitPermissionsForUser) on an enforcer
 * loaded from the same CSV. Posts one message per finished query.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { StringAdapter, newEnforcer, newModelFromString } from 'casbin'

const { modelText, csv, queries } = workerData
const started = performance.now()
const e = await newEnforcer(newModelFromString(modelText), new StringAdapter(csv))
parentPort.postMessage({ built_ms: performance.now() - started })

const unique = (xs) => [...new Set(xs)].sort()
for (const [i, q] of queries.entries()) {
  const t = performance.now()
  let values
  if (q.kind === 'subject') values = await e.getImplicitUsersForPermission(q.obj, q.act)
  else {
    const perms = await e.getImplicitPermissionsForUser(q.sub)
    values =
      q.kind === 'resource'
        ? perms.filter((p) => p[2] === q.act).map((p) => p[1])
        : perms.filter((p) => p[1] === q.obj).map((p) => p[2])
  }
  parentPort.postMessage({ i, ms: performance.now() - t, values: unique(values) })
}
parentPort.postMessage({ done: true })
