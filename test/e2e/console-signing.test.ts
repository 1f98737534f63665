/**
 * The console's signing module (console/src/api/signing.ts, WebCrypto) and its API client against
 * the server's own verifier (src/admin/signing.ts) and a real admin server on port 0: what the
 * page signs is what the gateway accepts, byte for byte, in Node 20's globalThis.crypto.subtle.
 */
import t from 'tap'
import fc from 'fast-check'
import { canonicalString as serverCanonical, signRequest as serverSign, verifyRequest } from '../../src/admin/signing'
import { AdminClient, ApiError, measureClockOffset, seg } from '../../console/src/api/client'
import { canonicalQuery, canonicalString, formatSigningDate, randomNonce, signRequest } from '../../console/src/api/signing'
import { adminHarness, ROOT } from '../helpers/admin-harness'

const KEY = { accessKeyId: 'LTAIconsole', accessKeySecret: 'sëcret/with+non-ascii' }

async function verify(method: string, url: string, body: string, headers: Record<string, string>, secret = KEY.accessKeySecret) {
  const nonces = new Set<string>()
  return verifyRequest({
    method, url, headers, body,
    resolveSecret: async (id) => (id === KEY.accessKeyId ? secret : undefined),
    claimNonce: async (n) => (nonces.has(n) ? false : (nonces.add(n), true)),
  })
}

t.test('requests signed in the page pass the server verifier', async (t) => {
  const cases: Array<[string, string, string]> = [
    ['GET', '/v1/instances', ''],
    ['GET', '/v1/audit?type=admin.*&limit=10&since=2026-01-01T00%3A00%3A00.000Z', ''],
    ['GET', '/v1/blacklist?b=2&a=1&a=0&sp=a+b&star=*&q=%C3%A9', ''],
    ['POST', '/v1/instances', JSON.stringify({ id: 'plant-1', hostnames: ['plänt.example.com'] })],
    ['DELETE', `/v1/policies/fleet/attachments/${seg('ca:plant-1/abc')}`, ''],
  ]
  for (const [method, url, body] of cases) {
    const headers = await signRequest({ method, target: url, body, key: KEY })
    const verified = await verify(method, url, body, headers)
    t.equal(verified.accessKeyId, KEY.accessKeyId, `${method} ${url}`)
  }
})

t.test('a request changed after signing is refused', async (t) => {
  const body = JSON.stringify({ status: 'Inactive' })
  const headers = await signRequest({ method: 'PATCH', target: '/v1/access-keys/LTAIx', body, key: KEY })
  await t.rejects(verify('PATCH', '/v1/access-keys/LTAIx', body.replace('Inactive', 'Active'), headers), { code: 'SIGNATURE_INVALID' }, 'another body')
  await t.rejects(verify('PATCH', '/v1/access-keys/LTAIy', body, headers), { code: 'SIGNATURE_INVALID' }, 'another path')
  await t.rejects(verify('PATCH', '/v1/access-keys/LTAIx', body, headers, 'other-secret'), { code: 'SIGNATURE_INVALID' }, 'another secret')
  const stale = await signRequest({ method: 'GET', target: '/v1/instances', body: '', key: KEY, now: new Date(Date.now() - 20 * 60_000) })
  await t.rejects(verify('GET', '/v1/instances', '', stale), { code: 'SIGNATURE_EXPIRED' }, 'a date 20 minutes old')
})

t.test('the canonical string and signature equal the server’s for any request', async (t) => {
  const segment = fc.string({ minLength: 1, maxLength: 8 }).map((s) => encodeURIComponent(s))
  const queryPart = fc.tuple(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 })).map(([n, v]) => `${encodeURIComponent(n)}=${encodeURIComponent(v).replace(/%20/g, '+')}`)
  await fc.assert(fc.asyncProperty(
    fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'),
    fc.array(segment, { minLength: 1, maxLength: 4 }),
    fc.array(queryPart, { maxLength: 5 }),
    fc.string({ maxLength: 60 }),
    fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }),
    async (method, segments, query, body, when) => {
      const url = `/v1/${segments.join('/')}${query.length > 0 ? `?${query.join('&')}` : ''}`
      const date = formatSigningDate(when)
      const nonce = 'fixed-nonce-1234'
      const mine = await canonicalString({ method, target: url, body, date, nonce })
      if (mine !== serverCanonical({ method, url, body, date, nonce })) return false
      const page = await signRequest({ method, target: url, body, key: KEY, now: when, nonce })
      const server = serverSign({ method, url, body, ...KEY, now: when, nonce })
      return page.authorization === server.authorization && page['x-portcullis-date'] === server['x-portcullis-date']
    },
  ), { numRuns: 300 })
  t.equal(canonicalQuery('b=2&a=%2a&a=1&c'), 'a=%2A&a=1&b=2&c=', 'sorted by name then value, RFC 3986 escapes')
  t.match(randomNonce(), /^[A-Za-z0-9_-]{20,24}$/, 'a nonce fits the server’s format')
})

t.test('the console client against a real admin server', async (t) => {
  const h = await adminHarness(t)
  await h.app.listen({ port: 0, host: '127.0.0.1' })
  const address = h.app.server.address() as { port: number }
  const baseUrl = `http://127.0.0.1:${address.port}`
  const api = new AdminClient({ baseUrl, key: ROOT })

  t.test('creates and reads back with signed JSON calls', async (t) => {
    const created = await api.call<{ id: string }>('POST', '/v1/instances', { id: 'console-i1', protocol: 'mqtt', hostnames: ['console-i1.example.com'] })
    t.equal(created.id, 'console-i1', 'POST with a JSON body signs and answers the instance')
    const listed = await api.list<{ id: string }>('/v1/instances')
    t.ok(listed.some((i) => i.id === 'console-i1'), 'listed')
    await api.call('PUT', '/v1/policies/console-p', { statements: [{ effect: 'Allow', actions: ['mqtt:Publish'], resources: ['mqtt:console-i1:topic/a/#'] }] })
    await api.call('POST', '/v1/policies/console-p/attachments', { principal: 'instance:console-i1' })
    t.equal(await api.call('DELETE', `/v1/policies/console-p/attachments/${seg('instance:console-i1')}`), undefined, 'a percent-encoded path segment signs and answers 204')
    const page = await api.get<{ items: unknown[] }>('/v1/audit', { type: 'admin.policy.*', limit: 10 })
    t.ok(page.items.length >= 3, 'a query string with * and . signs')
  })

  t.test('API errors keep their code, message and request id', async (t) => {
    const err = await api.get('/v1/instances/nope').catch((e: unknown) => e)
    t.ok(err instanceof ApiError, 'an ApiError')
    t.match(err, { status: 404, code: 'NOT_FOUND', message: /nope/ }, 'with the status, code and message of the answer')
    t.match((err as ApiError).requestId, /^[0-9a-f-]{36}$/, 'and its request id')
    const wrong = new AdminClient({ baseUrl, key: { ...ROOT, accessKeySecret: 'wrong' } })
    await t.rejects(wrong.get('/v1/instances'), { status: 401, code: 'SIGNATURE_INVALID' }, 'a wrong secret is SIGNATURE_INVALID')
  })

  t.test('a skewed page clock is corrected from the server’s Date header', async (t) => {
    t.equal(await measureClockOffset(baseUrl), 0, 'no correction when the clocks agree')
    const skewed = new AdminClient({ baseUrl, key: ROOT, clockOffsetMs: -20 * 60_000 })
    await t.rejects(skewed.get('/v1/instances'), { status: 401, code: 'SIGNATURE_EXPIRED' }, 'an uncorrected 20-minute skew is refused')
  })
})
