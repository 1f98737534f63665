import t from 'tap'
import fc from 'fast-check'
import assert from 'node:assert/strict'
import { isPortcullisError } from '../../src/errors'
import { AUTH_SCHEME, DATE_HEADER, NONCE_HEADER, canonicalQuery, parseAuthorization, percentEncode, signRequest, verifyRequest, type ResolvedKey } from '../../src/admin/signing'

/**
 * Properties of admin request signing (DESIGN §3 "Admin API"): the Authorization header parser
 * never throws and keeps only well-formed ids; the canonical query does not depend on how a
 * client escaped its URL (RFC 3986 §2.1: percent-encoding an unreserved character changes
 * nothing), and fails only with VALIDATION_FAILED; a request signed by signRequest verifies, and
 * any other header value fails with a SIGNATURE_* code, never another error.
 */
const RUNS = 200
const NOW = new Date('2026-11-24T08:00:00Z')

// Node's HTTP parser hands the request target over as latin1 text, so that is what a client controls.
const latin1 = fc.string({ unit: 'binary-ascii', maxLength: 60 })
const queryPart = fc.string({ maxLength: 12 }).filter((s) => Buffer.from(s, 'utf8').toString('utf8') === s)

t.test('parseAuthorization never throws; what it accepts is the scheme, a well-formed id and a Base64 signature', async (t) => {
  const header = fc.oneof(latin1, latin1.map((s) => `${AUTH_SCHEME} ${s}`), fc.tuple(latin1, latin1).map(([a, b]) => `${AUTH_SCHEME} ${a}:${b}`))
  fc.assert(fc.property(header, (h) => {
    const r = parseAuthorization(h)
    if (r === undefined) return
    assert.match(r.accessKeyId, /^[A-Za-z0-9_.-]{1,128}$/)
    assert.match(r.signature, /^[A-Za-z0-9+/=]+$/)
    assert.ok(h.trim().startsWith(`${AUTH_SCHEME} `))
  }), { numRuns: RUNS })
  t.pass(`${RUNS} headers`)
})

t.test('the canonical query is the same however a client escaped it, and only VALIDATION_FAILED comes out of it', async (t) => {
  fc.assert(fc.property(fc.array(fc.tuple(queryPart, queryPart), { maxLength: 5 }), fc.array(fc.boolean(), { maxLength: 60 }), (pairs, escapeAll) => {
    const plain = pairs.map(([n, v]) => `${percentEncode(n)}=${percentEncode(v)}`).join('&')
    // Escape each character differently: every octet %XX where the flag says so.
    const other = pairs.map(([n, v], i) => `${escape(n, escapeAll[i] ?? false)}=${escape(v, !(escapeAll[i] ?? false))}`).join('&')
    assert.equal(canonicalQuery(other), canonicalQuery(plain))
  }), { numRuns: RUNS })
  fc.assert(fc.property(latin1, (raw) => {
    try {
      canonicalQuery(raw)
    } catch (err) {
      assert.ok(isPortcullisError(err, 'VALIDATION_FAILED'), `threw ${String(err)}`)
    }
  }), { numRuns: RUNS })
  t.pass('canonical')
})

t.test('a request signed by signRequest verifies; any other header set fails with a SIGNATURE_* code, never another error', async (t) => {
  const secret = 'a-secret-of-the-test'
  const resolveSecret = async (id: string): Promise<ResolvedKey | undefined> => (id === 'LTAI-test' ? { secret } : undefined)
  const claimed = new Set<string>()
  const claimNonce = async (nonce: string): Promise<boolean> => !claimed.has(nonce) && Boolean(claimed.add(nonce))
  const path = fc.tuple(fc.stringMatching(/^\/[a-z0-9/]{0,20}$/), fc.array(fc.tuple(queryPart, queryPart), { maxLength: 3 }))
    .map(([p, q]) => (q.length === 0 ? p : `${p}?${q.map(([n, v]) => `${percentEncode(n)}=${percentEncode(v)}`).join('&')}`))
  await fc.assert(fc.asyncProperty(fc.constantFrom('GET', 'POST', 'DELETE'), path, fc.string({ maxLength: 40 }), fc.stringMatching(/^[A-Za-z0-9_-]{8,32}$/), async (method, url, body, nonce) => {
    fc.pre(!claimed.has(`admin:LTAI-test:${nonce}`))
    const headers = signRequest({ method, url, body, accessKeyId: 'LTAI-test', accessKeySecret: secret, now: NOW, nonce })
    assert.deepEqual(await verifyRequest({ method, url, headers, body, resolveSecret, claimNonce, now: NOW }), { accessKeyId: 'LTAI-test' })
  }), { numRuns: RUNS })
  const headerValue = fc.option(fc.oneof(latin1, fc.array(latin1, { maxLength: 2 })), { nil: undefined })
  await fc.assert(fc.asyncProperty(headerValue, headerValue, headerValue, async (authorization, date, nonce) => {
    try {
      await verifyRequest({ method: 'GET', url: '/x', headers: { authorization, [DATE_HEADER]: date, [NONCE_HEADER]: nonce }, body: '', resolveSecret, claimNonce, now: NOW })
      assert.fail('verified a forged request')
    } catch (err) {
      assert.ok(isPortcullisError(err) && /^(SIGNATURE_|NONCE_)/.test(err.code), `threw ${String(err)}`)
    }
  }), { numRuns: RUNS })
  t.pass('verified')
})

function escape(text: string, all: boolean): string {
  return all ? [...Buffer.from(text, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('') : percentEncode(text)
}
