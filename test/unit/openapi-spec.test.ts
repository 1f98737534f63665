import t from 'tap'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { HTTP_STATUS } from '../../src/admin/errors'
import { withAction } from '../../src/admin/authorization/route-action'
import { isPageRoute } from '../../src/admin/openapi/route-inventory'
import { DATE_SCHEME, NONCE_SCHEME, SIGNATURE_SCHEME } from '../../src/admin/openapi/signing-doc'
import { TAGS } from '../../src/admin/openapi/operation'
import type { ErrorCode } from '../../src/errors'
import { ADMIN_ACTIONS } from '../../src/policy/authorization/types'
import { adminHarness, type AdminHarness } from '../helpers/admin-harness'
import { newAjv, openApiPath, operations, routeTable, undocumented, type OpenApiDocument } from '../helpers/openapi-check'

/**
 * /openapi.json against the server it describes (DESIGN §4 "Operator interfaces"): every route
 * fastify registered is an operation and every operation documents itself (action, resource,
 * signing, error codes under the statuses the server gives them); its request schemas are what
 * the handlers enforce; /docs renders it from local files; docs/admin-api.md's table is it.
 * test/integration/openapi-conformance.test.ts drives every operation on a running gateway and
 * validates each real answer against the document.
 */
const SIGNED = [SIGNATURE_SCHEME, DATE_SCHEME, NONCE_SCHEME]
const PACKAGE = JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as { version: string }

async function documentOf(h: AdminHarness): Promise<OpenApiDocument> {
  const res = await h.app.inject({ method: 'GET', url: '/openapi.json' })
  if (res.statusCode !== 200) throw new Error(`GET /openapi.json: ${res.statusCode} ${res.body}`)
  return res.json() as OpenApiDocument
}

t.test('/openapi.json is an unsigned OpenAPI 3.1 document whose every schema compiles as JSON Schema 2020-12', async (t) => {
  const h = await adminHarness(t)
  const res = await h.app.inject({ method: 'GET', url: '/openapi.json' })
  t.equal(res.statusCode, 200, 'no signature needed')
  t.match(res.headers['content-type'], /^application\/json/)
  const doc = res.json() as OpenApiDocument
  t.equal(doc.openapi, '3.1.0')
  t.equal(doc.info.version, PACKAGE.version, 'the package version')
  t.match(doc.info.description, /## Signing requests/, 'the signing is described')
  t.same(Object.keys(doc.components?.securitySchemes ?? {}).sort(), [...SIGNED].sort())
  t.notMatch(res.body, /"\$ref"/, 'no reference that could dangle: every schema is inline')
  t.notMatch(res.body, /x-portcullis-body-optional/, 'the marker for optional bodies is consumed')
  t.same(doc.tags?.map((tag) => tag.name), [...TAGS], 'tags in the order /docs shows them')
  const ajv = newAjv()
  let compiled = 0
  const visit = (node: unknown, where: string): void => {
    if (typeof node !== 'object' || node === null) return
    for (const [key, value] of Object.entries(node)) {
      if (key === 'schema' && typeof value === 'object' && value !== null) {
        t.doesNotThrow(() => ajv.compile(value), `${where} compiles`)
        compiled++
      } else visit(value, `${where}/${key}`)
    }
  }
  visit(doc.paths, '')
  t.ok(compiled > 200, `${compiled} schemas compiled`)
  const ui = await h.app.inject({ method: 'GET', url: '/docs/json' })
  t.same(ui.json(), doc, '/docs renders the same document')
})

t.test('every route the server registers is an operation of the document, and every operation is a route', async (t) => {
  const h = await adminHarness(t)
  const doc = await documentOf(h)
  const registered = h.app.registeredRoutes()
  const listed = registered.filter((r) => !r.hidden).map((r) => `${r.method} ${openApiPath(r.url)}`).sort()
  const documented = operations(doc).map(({ method, path }) => `${method} ${path}`).sort()
  t.same(listed, documented)
  t.ok(listed.length >= 50, `${listed.length} operations`)
  const hidden = registered.filter((r) => r.hidden)
  t.ok(hidden.length > 0)
  for (const r of hidden) t.ok(isPageRoute(r.url), `${r.method} ${r.url} is left out only because it is a page (the reference's UI, the console)`)
  const actions = operations(doc).map(({ op }) => op['x-portcullis-action']).filter((a) => a !== undefined).sort()
  t.same(actions, [...ADMIN_ACTIONS].sort(), 'each admin action is documented on exactly one operation')
})

t.test('every operation documents its summary, answers, action, resource, signing and error codes', async (t) => {
  const h = await adminHarness(t)
  const doc = await documentOf(h)
  t.same(undocumented(doc, SIGNED, ADMIN_ACTIONS), [])
  const byPath = (method: string, path: string) => doc.paths[path]?.[method]
  t.equal(byPath('post', '/v1/instances/{id}/cas')?.['x-portcullis-resource'], 'admin:instances/{id}/cas', 'the resource its action is decided on')
  t.equal(byPath('post', '/v1/instances/{id}/devices/{deviceId}/revoke')?.['x-portcullis-resource'], 'admin:instances/{id}/devices/{deviceId}', 'without the verb, as the authorizer decides it')
  t.equal(byPath('post', '/v1/access-keys')?.requestBody?.required, false, 'a body that may be left out ({} is valid)')
  t.equal(byPath('post', '/v1/instances')?.requestBody?.required, true)
  t.ok(byPath('get', '/v1/instances/{id}/devices/{deviceId}')?.responses['200']?.content?.['application/x-pem-file'], 'the PEM download is a second media type')
  t.ok(byPath('get', '/v1/audit/stream')?.responses['200']?.content?.['text/event-stream'], 'the live tail is server-sent events')
})

t.test('the checks find a route added without a documented contract', async (t) => {
  const h = await adminHarness(t, { extraRoutes: () => [async (app) => { app.get('/extra/:id', withAction('admin:GetInstance'), async () => ({ ok: true })) }] })
  const doc = await documentOf(h)
  const problems = undocumented(doc, SIGNED, ADMIN_ACTIONS).filter((p) => p.startsWith('GET /v1/extra/{id}'))
  t.match(problems.join('\n'), /no summary[\s\S]*no operationId[\s\S]*no description[\s\S]*x-portcullis-action[\s\S]*security is not the request signature[\s\S]*401 lacks SIGNATURE_MISSING/)
})

t.test('error codes are documented under the status the server answers them with', async (t) => {
  const h = await adminHarness(t)
  const doc = await documentOf(h)
  // The one route that answers a code otherwise than HTTP_STATUS: a refused config file is the
  // caller's 400 there (routes/config.ts), a start-up failure elsewhere (500).
  const overrides: Record<string, Partial<Record<string, number>>> = { 'POST /v1/config/reload': { CONFIG_INVALID: 400 } }
  let checked = 0
  for (const { method, path, op } of operations(doc)) {
    for (const [status, r] of Object.entries(op.responses)) {
      const schema = r.content?.['application/json']?.schema as { properties?: { code?: { enum?: ErrorCode[] } } } | undefined
      for (const code of schema?.properties?.code?.enum ?? []) {
        const expected = overrides[`${method} ${path}`]?.[code] ?? HTTP_STATUS[code]
        t.equal(Number(status), expected, `${method} ${path}: ${code} under ${expected}`)
        checked++
      }
    }
  }
  t.ok(checked > 500, `${checked} codes checked`)
})

t.test('what the document says a request may hold is what the handlers enforce: no body member or query parameter it does not list', async (t) => {
  const h = await adminHarness(t)
  const doc = await documentOf(h)
  const fill = (path: string): string => path.replace(/\{[^}]+\}/g, 'x')
  let bodies = 0
  let queries = 0
  for (const { method, path, op } of operations(doc)) {
    if (!path.startsWith('/v1/')) continue
    const bodySchema = op.requestBody?.content?.['application/json']?.schema as { additionalProperties?: unknown } | undefined
    if (bodySchema !== undefined) {
      t.equal(bodySchema.additionalProperties, false, `${method} ${path}: the body is closed`)
      const res = await h.call(method, fill(path), { unlistedMember: 1 })
      t.same([res.statusCode, res.json().code], [400, 'VALIDATION_FAILED'], `${method} ${path}: a member the document does not list is refused`)
      t.match(res.json().message, /unlistedMember/, `${method} ${path}: naming it`)
      bodies++
    }
    if (method === 'GET') {
      const res = await h.call(method, `${fill(path)}?unlistedParameter=1`)
      t.same([res.statusCode, res.json().code], [400, 'VALIDATION_FAILED'], `${method} ${path}: a query parameter the document does not list is refused`)
      queries++
    }
  }
  t.ok(bodies >= 15 && queries >= 20, `${bodies} bodies and ${queries} queries tried`)
})

t.test('GET / points to the console, the reference and the probes: JSON, or HTML for a browser', async (t) => {
  const h = await adminHarness(t)
  const json = await h.app.inject({ method: 'GET', url: '/' })
  t.equal(json.statusCode, 200)
  t.match(json.json(), { name: 'portcullis', links: { docs: '/docs', openapi: '/openapi.json', console: '/console/' } })
  const html = await h.app.inject({ method: 'GET', url: '/', headers: { accept: 'text/html,application/xhtml+xml' } })
  t.match(html.headers['content-type'], /^text\/html/)
  for (const href of ['/docs', '/openapi.json', '/console/']) t.match(html.body, `href="${href}"`)
})

t.test('/docs is swagger-ui served from the package: every asset it loads is local, and its CSP allows no other origin', async (t) => {
  const h = await adminHarness(t)
  const page = await h.app.inject({ method: 'GET', url: '/docs/' })
  t.equal(page.statusCode, 200)
  const csp = String(page.headers['content-security-policy'])
  t.match(csp, /default-src 'self'/)
  t.notMatch(csp, /https?:|\*/, 'no other origin, no wildcard')
  const assets = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string)
  t.ok(assets.length >= 5, `${assets.length} assets`)
  for (const asset of assets) {
    t.notMatch(asset, /^(https?:)?\/\//, `${asset} is relative`)
    const res = await h.app.inject({ method: 'GET', url: new URL(asset, 'http://admin/docs/').pathname })
    t.equal(res.statusCode, 200, `${asset} is served`)
  }
  const init = await h.app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' })
  t.match(init.body, /validatorUrl": ?null|"validatorUrl":null/, 'no badge fetched from validator.swagger.io')
})

t.test("docs/admin-api.md's route table is the document's", async (t) => {
  const h = await adminHarness(t)
  const table = routeTable(await documentOf(h))
  const file = join(__dirname, '../../docs/admin-api.md')
  const text = readFileSync(file, 'utf8')
  const block = /(<!-- routes:begin[^>]*-->\n)([\s\S]*?)(\n<!-- routes:end -->)/
  const between = block.exec(text)
  t.ok(between, 'the table sits between the routes:begin and routes:end markers')
  if (process.env.PORTCULLIS_WRITE_DOCS === '1') writeFileSync(file, text.replace(block, (_all, begin: string, _old, end: string) => `${begin}${table}${end}`))
  t.equal(between?.[2], table, 'regenerate with PORTCULLIS_WRITE_DOCS=1 npx tap test/unit/openapi-spec.test.ts')
})
