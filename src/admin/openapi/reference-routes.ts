import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { publicRoute } from './operation'

/** Where the operator interfaces live (DESIGN §4 "Operator interfaces"). */
export const LINKS = {
  docs: '/docs',
  openapi: '/openapi.json',
  console: '/console/',
  health: '/healthz',
  ready: '/readyz',
  metrics: '/metrics',
} as const

const indexSchema = z.object({
  name: z.literal('portcullis'),
  description: z.string(),
  links: z.object(Object.fromEntries(Object.keys(LINKS).map((k) => [k, z.string()])) as Record<keyof typeof LINKS, z.ZodString>),
})

const INDEX_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Portcullis admin</title></head>
<body><h1>Portcullis admin</h1><ul>
<li><a href="${LINKS.console}">Web console</a> (${LINKS.console})</li>
<li><a href="${LINKS.docs}">API reference</a> (${LINKS.docs}), from <a href="${LINKS.openapi}">${LINKS.openapi}</a> (OpenAPI 3.1)</li>
<li><a href="${LINKS.health}">${LINKS.health}</a>, <a href="${LINKS.ready}">${LINKS.ready}</a>, <a href="${LINKS.metrics}">${LINKS.metrics}</a></li>
</ul><p>Every <code>/v1</code> call is signed (PORTCULLIS-HMAC-SHA1); the reference says how.</p></body></html>
`

/** A browser (it prefers text/html) gets the page; anything else the JSON. */
function wantsHtml(req: FastifyRequest): boolean {
  const accept = req.headers.accept ?? ''
  return /\btext\/html\b/.test(accept)
}

/**
 * `GET /openapi.json` (the document @fastify/swagger built, unsigned) and `GET /` (an index of the
 * operator interfaces). Registered after the swagger plugin, so both are in the document too.
 */
export function referenceRoutes(): FastifyPluginAsync {
  return async (app) => {
    app.get('/openapi.json', publicRoute({
      operationId: 'getOpenApi',
      tag: 'Reference',
      summary: 'This OpenAPI 3.1 document',
      description: 'Generated from the route schemas; unsigned. `/docs` renders it.',
      responses: { 200: { description: 'The OpenAPI document', json: z.looseObject({ openapi: z.string().regex(/^3\.1\./), info: z.looseObject({}), paths: z.record(z.string(), z.unknown()) }) } },
    }), async () => app.swagger())

    app.get('/', publicRoute({
      operationId: 'getIndex',
      tag: 'Reference',
      summary: 'Where the console, the API reference and the probes are',
      description: 'HTML for a client that accepts text/html (a browser), else JSON.',
      responses: { 200: { description: 'Links to the operator interfaces', json: indexSchema, media: { 'text/html': z.string() } } },
    }), async (req, reply) => {
      if (wantsHtml(req)) return reply.type('text/html; charset=utf-8').send(INDEX_HTML)
      return { name: 'portcullis', description: 'Portcullis admin server: the signed /v1 API, its reference and the web console', links: LINKS } satisfies z.output<typeof indexSchema>
    })
  }
}
