import { z } from 'zod'

/**
 * A store's options: the `setup` keys of the upstream Casbin cases (DESIGN.md) plus how an
 * AuthZEN request maps onto the store's request tuple.
 */
const matchingFunctions = [
  'keyMatch',
  'keyMatch2',
  'keyMatch3',
  'keyMatch4',
  'keyMatch5',
  'regexMatch',
  'globMatch',
] as const

export const storeOptions = z
  .object({
    /** pattern matching inside role names, per role type: {"g": "keyMatch2"} */
    named_matching_func: z.record(z.string().regex(/^g\d*$/), z.enum(matchingFunctions)).optional(),
    /** pattern matching inside domains, per role type */
    named_domain_matching_func: z.record(z.string().regex(/^g\d*$/), z.enum(matchingFunctions)).optional(),
    /** request elements that are JSON strings are parsed into objects */
    accept_json_request: z.boolean().optional(),
    /**
     * AuthZEN mapping: one path per request token, e.g. ["subject.id", "context.domain",
     * "resource.id", "action.name"]. Paths start at subject, resource, action or context;
     * a bare "subject" passes the whole object (ABAC).
     */
    authzen_request: z
      .array(
        z
          .string()
          .regex(/^(subject|resource|action|context)(\.[\w-]+)*$/, 'must be a path like subject.id or context.domain'),
      )
      .min(1)
      .optional(),
  })
  .strict()

export type StoreOptions = z.infer<typeof storeOptions>
