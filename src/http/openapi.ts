import { z } from 'zod'
import type { Route, RouteContract } from './contract.ts'

/**
 * The OpenAPI 3.1 document of every mounted JSON API, generated from the route contracts
 * (zod 4's native JSON Schema output, draft 2020-12, which is OpenAPI 3.1's dialect).
 */

export interface OpenApiInfo {
  title: string
  version: string
  description?: string
  /** PUBLIC_URL: the server and the token endpoint */
  publicUrl: string
}

type Json = Record<string, unknown>

const errorBody = z.object({
  error: z.string().describe('stable machine-readable code, e.g. invalid_request, insufficient_scope'),
  error_description: z.string().describe('what went wrong, for a person'),
  details: z
    .unknown()
    .optional()
    .describe('structured details; for invalid input `{"fields": [{"in", "field", "message"}]}`'),
})

function schemaOf(s: z.ZodType, io: 'input' | 'output'): Json {
  const out = z.toJSONSchema(s, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Json
  delete out.$schema
  return out
}

/** /authz/v1/stores/:store -> /authz/v1/stores/{store} (OpenAPI §4.8.2 path templating) */
export const openApiPath = (path: string) => path.replace(/:(\w+)/g, '{$1}')

function parameters(c: RouteContract): Json[] {
  const out: Json[] = []
  const add = (where: 'path' | 'query', s: z.ZodType | undefined) => {
    if (!s) return
    const js = schemaOf(s, 'input')
    const props = (js.properties ?? {}) as Record<string, Json>
    const required = new Set((js.required ?? []) as string[])
    for (const [name, schema] of Object.entries(props)) {
      const { description, ...rest } = schema
      out.push({
        name,
        in: where,
        required: where === 'path' || required.has(name),
        schema: rest,
        ...(description ? { description } : {}),
      })
    }
  }
  add('path', c.params)
  add('query', c.query)
  for (const [name, description] of Object.entries(c.headers ?? {}))
    out.push({ name, in: 'header', required: false, description, schema: { type: 'string' } })
  return out
}

function security(c: RouteContract): Json[] | undefined {
  if (c.auth === 'public') return []
  const schemes = c.auth.schemes ?? ['access_token', 'api_key']
  const names = { access_token: 'accessToken', api_key: 'apiKey' } as const
  // Alternatives (any one requirement object satisfies, OpenAPI §4.8.30): each scheme with each
  // scope that suffices; `admin` suffices everywhere.
  const scopes = [...new Set([...c.auth.scopes, 'admin'])]
  return schemes.flatMap((s) => scopes.map((scope) => ({ [names[s]]: [scope] })))
}

const errorResponse = (description: string): Json => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
})

function responses(c: RouteContract): Json {
  const out: Json = {}
  for (const [status, r] of Object.entries(c.responses)) {
    const content: Json = {}
    if (r.body) content['application/json'] = { schema: schemaOf(r.body, 'output') }
    for (const m of r.media ?? []) content[m] = { schema: { type: 'string' } }
    out[status] = {
      description: r.description,
      ...(Object.keys(content).length ? { content } : {}),
      ...(r.headers
        ? {
            headers: Object.fromEntries(
              Object.entries(r.headers).map(([h, d]) => [h, { description: d, schema: { type: 'string' } }]),
            ),
          }
        : {}),
    }
  }
  if ((c.params || c.query || c.body) && !out['400'])
    out['400'] = errorResponse('invalid input: every bad field is listed')
  if (c.auth !== 'public') {
    out['401'] ??= errorResponse('no credential, or an invalid, expired or revoked one')
    out['403'] ??= errorResponse(
      c.auth.management ? 'missing scope, or a caller outside MANAGEMENT_ALLOWED_IPS' : 'missing scope',
    )
  }
  return out
}

function operation(c: RouteContract): Json {
  const auth =
    c.auth === 'public'
      ? 'Public: no credential needed.'
      : `Needs ${c.auth.scopes.map((s) => `\`${s}\``).join(' or ')} (\`admin\` holds every scope).` +
        (c.auth.management ? ' Only from MANAGEMENT_ALLOWED_IPS when that is set.' : '')
  const body = c.body && {
    required: !c.body.optional,
    content: {
      'application/json': { schema: schemaOf(c.body.schema, 'input') },
      ...(c.body.form ? { 'application/x-www-form-urlencoded': { schema: schemaOf(c.body.schema, 'input') } } : {}),
    },
  }
  const params = parameters(c)
  return {
    operationId: c.operationId,
    summary: c.summary,
    description: [c.description, auth].filter(Boolean).join('\n\n'),
    tags: [...c.tags],
    ...(params.length ? { parameters: params } : {}),
    ...(body ? { requestBody: body } : {}),
    responses: responses(c),
    security: security(c),
    ...(c.auth !== 'public' && c.auth.management ? { 'x-management-ip-allowlist': true } : {}),
  }
}

/** Every scope named by a contract, for the OAuth 2.0 scheme's scope list. */
function scopeList(routes: readonly Route[]): Record<string, string> {
  const all = new Set(['admin'])
  for (const r of routes) if (r.contract.auth !== 'public') for (const s of r.contract.auth.scopes) all.add(s)
  return Object.fromEntries([...all].sort().map((s) => [s, s === 'admin' ? 'every management scope' : s]))
}

export function openApiDocument(routes: readonly Route[], info: OpenApiInfo): Json {
  const paths: Record<string, Json> = {}
  for (const { contract: c } of routes) {
    const p = (paths[openApiPath(c.path)] ??= {})
    p[c.method] = operation(c)
  }
  const tags = [...new Set(routes.flatMap((r) => r.contract.tags))].map((name) => ({ name }))
  return {
    openapi: '3.1.0',
    info: { title: info.title, version: info.version, ...(info.description ? { description: info.description } : {}) },
    servers: [{ url: info.publicUrl }],
    tags,
    paths,
    components: {
      schemas: { Error: schemaOf(errorBody, 'output') },
      securitySchemes: {
        accessToken: {
          type: 'oauth2',
          description:
            'A portcullis access token (JWT) from the client credentials grant, sent as `Authorization: Bearer <token>`.',
          flows: { clientCredentials: { tokenUrl: `${info.publicUrl}/token`, scopes: scopeList(routes) } },
        },
        apiKey: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'pcs_…',
          description:
            'A portcullis API key, sent as `Authorization: Bearer pcs_…`; its scopes are those it was issued with.',
        },
      },
    },
  }
}
