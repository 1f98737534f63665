import { createHash, createHmac } from 'node:crypto'
import t, { type Test } from 'tap'
import {
  AdminAuthError, canonicalQuery, canonicalString, percentEncode, signRequest, verifyRequest, type VerifyRequestInput,
} from '../../src/admin/signing'
import { isPortcullisError, PortcullisError, type ErrorCode } from '../../src/errors'

const KEY_ID = 'AKTEST'
const SECRET = 'sk-test-secret'
const NOW = new Date('2026-11-24T08:00:00Z')

function nonceStore(): (nonce: string, ttl: number) => Promise<boolean> {
  const seen = new Set<string>()
  return async (nonce) => {
    if (seen.has(nonce)) return false
    seen.add(nonce)
    return true
  }
}

function verifyInput(overrides: Partial<VerifyRequestInput> & { headers: VerifyRequestInput['headers'] }): VerifyRequestInput {
  return {
    method: 'POST',
    url: '/v1/instances?b=2&a=1',
    body: '{"id":"x"}',
    resolveSecret: async (id) => (id === KEY_ID ? { secret: SECRET, mayAdminister: true } : undefined),
    claimNonce: nonceStore(),
    now: NOW,
    ...overrides,
  }
}

async function rejectsWith(t: Test, promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  try {
    await promise
    t.fail(`expected ${code}, the request was accepted`)
  } catch (err) {
    t.ok(isPortcullisError(err, code), `refused with ${code} (got ${(err as { code?: string }).code})`)
  }
}

t.test('the canonical string and signature match a vector computed independently', async (t) => {
  const body = '{"id":"demo","protocol":"mqtt"}'
  const headers = signRequest({
    method: 'post', url: '/v1/instances?z=last&a=b%20c&a=a', body, accessKeyId: KEY_ID, accessKeySecret: SECRET,
    now: NOW, nonce: 'nonce-0001',
  })
  const bodyHash = createHash('sha256').update(body).digest('hex')
  const expectedCanonical = `POST\n/v1/instances\na=a&a=b%20c&z=last\n${bodyHash}\n2026-11-24T08:00:00Z\nnonce-0001`
  const expectedSignature = createHmac('sha1', SECRET).update(expectedCanonical).digest('base64')
  t.equal(
    canonicalString({ method: 'post', url: '/v1/instances?z=last&a=b%20c&a=a', body, date: '2026-11-24T08:00:00Z', nonce: 'nonce-0001' }),
    expectedCanonical,
  )
  t.same(headers, {
    authorization: `PORTCULLIS-HMAC-SHA1 ${KEY_ID}:${expectedSignature}`,
    'x-portcullis-date': '2026-11-24T08:00:00Z',
    'x-portcullis-nonce': 'nonce-0001',
  })
})

t.test('query canonicalisation follows RFC 3986 and sorts by name', async (t) => {
  t.equal(canonicalQuery(''), '')
  t.equal(percentEncode("a b!'()*~-._/"), "a%20b%21%27%28%29%2A~-._%2F")
  t.equal(canonicalQuery('b=1&a'), 'a=&b=1', 'a parameter without value is name=')
  t.equal(canonicalQuery('q=a+b'), 'q=a%20b', '+ is a space, as in form encoding')
  t.equal(canonicalQuery('q=%7e'), canonicalQuery('q=~'), 'escaping choices do not change the canonical form')
  t.equal(canonicalQuery('%C3%A9=%E2%82%AC'), '%C3%A9=%E2%82%AC', 'UTF-8 stays percent-encoded, upper-case hex')
})

t.test('a correctly signed request verifies and names its AccessKey', async (t) => {
  const headers = signRequest({ method: 'POST', url: '/v1/instances?b=2&a=1', body: '{"id":"x"}', accessKeyId: KEY_ID, accessKeySecret: SECRET, now: NOW })
  const verified = await verifyRequest(verifyInput({ headers }))
  t.same(verified, { accessKeyId: KEY_ID })
})

t.test('the query order chosen by the client does not matter', async (t) => {
  const headers = signRequest({ method: 'POST', url: '/v1/instances?a=1&b=2', body: '{"id":"x"}', accessKeyId: KEY_ID, accessKeySecret: SECRET, now: NOW })
  await verifyRequest(verifyInput({ headers, url: '/v1/instances?b=2&a=1' }))
  t.pass('verified with the parameters in another order')
})

t.test('tampering with any signed part is refused', async (t) => {
  const signed = (): Record<string, string> =>
    signRequest({ method: 'POST', url: '/v1/instances?b=2&a=1', body: '{"id":"x"}', accessKeyId: KEY_ID, accessKeySecret: SECRET, now: NOW })
  await rejectsWith(t, verifyRequest(verifyInput({ headers: signed(), method: 'PUT' })), 'SIGNATURE_INVALID')
  await rejectsWith(t, verifyRequest(verifyInput({ headers: signed(), url: '/v1/instancez?b=2&a=1' })), 'SIGNATURE_INVALID')
  await rejectsWith(t, verifyRequest(verifyInput({ headers: signed(), url: '/v1/instances?b=3&a=1' })), 'SIGNATURE_INVALID')
  await rejectsWith(t, verifyRequest(verifyInput({ headers: signed(), url: '/v1/instances?a=2&b=1' })), 'SIGNATURE_INVALID')
  await rejectsWith(t, verifyRequest(verifyInput({ headers: signed(), body: '{"id":"y"}' })), 'SIGNATURE_INVALID')
  await rejectsWith(t, verifyRequest(verifyInput({ headers: { ...signed(), 'x-portcullis-date': '2026-11-24T08:00:01Z' } })), 'SIGNATURE_INVALID')
  await rejectsWith(t, verifyRequest(verifyInput({ headers: { ...signed(), 'x-portcullis-nonce': 'another-nonce' } })), 'SIGNATURE_INVALID')
})

t.test('a date more than 15 minutes away is refused even when signed', async (t) => {
  const old = new Date(NOW.getTime() - 16 * 60_000)
  const future = new Date(NOW.getTime() + 16 * 60_000)
  const headersOld = signRequest({ method: 'GET', url: '/v1/instances', accessKeyId: KEY_ID, accessKeySecret: SECRET, now: old })
  const headersFuture = signRequest({ method: 'GET', url: '/v1/instances', accessKeyId: KEY_ID, accessKeySecret: SECRET, now: future })
  await rejectsWith(t, verifyRequest(verifyInput({ method: 'GET', url: '/v1/instances', body: '', headers: headersOld })), 'SIGNATURE_EXPIRED')
  await rejectsWith(t, verifyRequest(verifyInput({ method: 'GET', url: '/v1/instances', body: '', headers: headersFuture })), 'SIGNATURE_EXPIRED')
  const within = signRequest({ method: 'GET', url: '/v1/instances', accessKeyId: KEY_ID, accessKeySecret: SECRET, now: new Date(NOW.getTime() - 14 * 60_000) })
  await verifyRequest(verifyInput({ method: 'GET', url: '/v1/instances', body: '', headers: within }))
  t.pass('14 minutes is within the window')
})

t.test('a nonce is accepted once only', async (t) => {
  const claimNonce = nonceStore()
  const headers = signRequest({ method: 'GET', url: '/v1/instances', accessKeyId: KEY_ID, accessKeySecret: SECRET, now: NOW })
  const input = verifyInput({ method: 'GET', url: '/v1/instances', body: '', headers, claimNonce })
  await verifyRequest(input)
  await rejectsWith(t, verifyRequest(input), 'NONCE_REUSED')
})

t.test('a forged request does not consume the nonce it names', async (t) => {
  const claimNonce = nonceStore()
  const good = signRequest({ method: 'GET', url: '/v1/instances', accessKeyId: KEY_ID, accessKeySecret: SECRET, now: NOW, nonce: 'shared-nonce' })
  const forged = signRequest({ method: 'GET', url: '/v1/instances', accessKeyId: KEY_ID, accessKeySecret: 'wrong', now: NOW, nonce: 'shared-nonce' })
  await rejectsWith(t, verifyRequest(verifyInput({ method: 'GET', url: '/v1/instances', body: '', headers: forged, claimNonce })), 'SIGNATURE_INVALID')
  await verifyRequest(verifyInput({ method: 'GET', url: '/v1/instances', body: '', headers: good, claimNonce }))
  t.pass('the genuine request still went through')
})

t.test('an unknown AccessKey or a wrong secret is refused as an invalid signature', async (t) => {
  const unknown = signRequest({ method: 'GET', url: '/v1/instances', accessKeyId: 'NOBODY', accessKeySecret: SECRET, now: NOW })
  await rejectsWith(t, verifyRequest(verifyInput({ method: 'GET', url: '/v1/instances', body: '', headers: unknown })), 'SIGNATURE_INVALID')
  const wrong = signRequest({ method: 'GET', url: '/v1/instances', accessKeyId: KEY_ID, accessKeySecret: 'not-the-secret', now: NOW })
  await rejectsWith(t, verifyRequest(verifyInput({ method: 'GET', url: '/v1/instances', body: '', headers: wrong })), 'SIGNATURE_INVALID')
})

t.test('missing or malformed signing headers are refused', async (t) => {
  const headers = signRequest({ method: 'GET', url: '/v1/instances', accessKeyId: KEY_ID, accessKeySecret: SECRET, now: NOW })
  const base = { method: 'GET', url: '/v1/instances', body: '' }
  await rejectsWith(t, verifyRequest(verifyInput({ ...base, headers: {} })), 'SIGNATURE_MISSING')
  await rejectsWith(t, verifyRequest(verifyInput({ ...base, headers: { ...headers, authorization: undefined } })), 'SIGNATURE_MISSING')
  await rejectsWith(t, verifyRequest(verifyInput({ ...base, headers: { ...headers, authorization: 'Bearer abc' } })), 'SIGNATURE_INVALID')
  await rejectsWith(t, verifyRequest(verifyInput({ ...base, headers: { ...headers, 'x-portcullis-date': 'Tue, 24 Nov 2026 08:00:00 GMT' } })), 'SIGNATURE_INVALID')
  await rejectsWith(t, verifyRequest(verifyInput({ ...base, headers: { ...headers, 'x-portcullis-nonce': 'x' } })), 'SIGNATURE_INVALID')
})

async function auditReasonOf(promise: Promise<unknown>): Promise<{ code: string; auditReason: string }> {
  try {
    await promise
  } catch (err) {
    if (err instanceof AdminAuthError) return { code: err.code, auditReason: err.auditReason }
    throw err
  }
  throw new Error('the request was accepted')
}

t.test('an unknown key and a bad signature answer alike, and only the audit reason tells them apart', async (t) => {
  const unknown = signRequest({ method: 'GET', url: '/v1/instances', accessKeyId: 'NOBODY', accessKeySecret: SECRET, now: NOW })
  t.same(await auditReasonOf(verifyRequest(verifyInput({ method: 'GET', url: '/v1/instances', body: '', headers: unknown }))),
    { code: 'SIGNATURE_INVALID', auditReason: 'ACCESS_KEY_UNKNOWN' })
  const wrong = signRequest({ method: 'GET', url: '/v1/instances', accessKeyId: KEY_ID, accessKeySecret: 'not-the-secret', now: NOW })
  t.same(await auditReasonOf(verifyRequest(verifyInput({ method: 'GET', url: '/v1/instances', body: '', headers: wrong }))),
    { code: 'SIGNATURE_INVALID', auditReason: 'SIGNATURE_INVALID' })
})

t.test('a disabled key answers like an unknown one; its audit reason is ACCESS_KEY_INACTIVE', async (t) => {
  const headers = signRequest({ method: 'GET', url: '/v1/instances', accessKeyId: 'DISABLED', accessKeySecret: SECRET, now: NOW })
  const resolveSecret = async (id: string) => {
    if (id === 'DISABLED') throw new PortcullisError('ACCESS_KEY_INACTIVE')
    return undefined
  }
  t.same(await auditReasonOf(verifyRequest(verifyInput({ method: 'GET', url: '/v1/instances', body: '', headers, resolveSecret }))),
    { code: 'SIGNATURE_INVALID', auditReason: 'ACCESS_KEY_INACTIVE' })
})
