import t from 'tap'
import fc from 'fast-check'
import assert from 'node:assert/strict'
import {
  ACCESS_KEY_ID, INSTANCE_ID, MAX_PASSWORD_LENGTH, MAX_USERNAME_LENGTH, TIMESTAMP,
  encodeUserName, parsePassword, parseUserName, passwordFor,
} from '../../src/auth/credentials'

/**
 * Properties of the AMQP userName / password parsers (DESIGN §1, Aliyun-compatible), which read
 * what an unauthenticated client sent: on any string they answer data (never throw), refuse
 * anything over their length caps before decoding it, accept only canonical Base64 (so no two
 * strings name the same credential), and parse back exactly what encodeUserName / passwordFor made.
 */
const RUNS = 300

const instanceId = fc.stringMatching(INSTANCE_ID)
const accessKeyId = fc.stringMatching(ACCESS_KEY_ID)
const securityToken = fc.tuple(fc.stringMatching(/^[A-Za-z0-9_-]{16,80}$/), fc.stringMatching(/^[A-Za-z0-9_-]{43}$/)).map(([a, b]) => `${a}.${b}`)
const timestamp = fc.stringMatching(TIMESTAMP)
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64')

/** Anything a client could send: raw text, Base64 of arbitrary text, Base64 of near-miss fields. */
const clientText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }).map(b64),
  fc.array(fc.oneof(fc.constantFrom('0', '2', '1', ''), instanceId, accessKeyId, securityToken, fc.string({ maxLength: 10 })), { maxLength: 5 }).map((f) => b64(f.join(':'))),
  fc.tuple(fc.stringMatching(/^[0-9A-Fa-f]{38,42}$/), fc.string({ maxLength: 18 })).map(([h, ts]) => b64(`${h}:${ts}`)),
  fc.string({ minLength: MAX_USERNAME_LENGTH - 2, maxLength: MAX_USERNAME_LENGTH + 4 }),
)

t.test('parseUserName and parsePassword answer data on any string: never throw, always BAD_CREDENTIALS when refusing', async (t) => {
  fc.assert(fc.property(clientText, (text) => {
    for (const r of [parseUserName(text), parsePassword(text)]) {
      if (!r.ok) {
        assert.equal(r.reason, 'BAD_CREDENTIALS')
        assert.equal(typeof r.detail, 'string')
      }
    }
  }), { numRuns: RUNS })
  t.pass(`${RUNS} strings`)
})

t.test('an accepted userName or password is canonical Base64 within its cap: re-encoding its bytes gives the same string', async (t) => {
  fc.assert(fc.property(clientText, (text) => {
    const user = parseUserName(text)
    if (user.ok) {
      assert.ok(text.length <= MAX_USERNAME_LENGTH)
      assert.equal(Buffer.from(text, 'base64').toString('base64'), text)
    }
    const pass = parsePassword(text)
    if (pass.ok) {
      assert.ok(text.length <= MAX_PASSWORD_LENGTH)
      assert.equal(Buffer.from(text, 'base64').toString('base64'), text)
    }
  }), { numRuns: RUNS })
  // A non-canonical spelling of a valid userName (unpadded, or with whitespace) is refused.
  fc.assert(fc.property(instanceId, accessKeyId, fc.constantFrom('strip', 'space', 'newline'), (i, a, how) => {
    const canonical = encodeUserName({ type: 0, instanceId: i, accessKeyId: a })
    const variant = how === 'strip' ? canonical.replace(/=+$/, '') : how === 'space' ? ` ${canonical}` : `${canonical}\n`
    fc.pre(variant !== canonical)
    assert.equal(parseUserName(variant).ok, false)
  }), { numRuns: RUNS })
  t.pass('canonical only')
})

t.test('what encodeUserName and passwordFor make parses back to the same fields', async (t) => {
  fc.assert(fc.property(fc.constantFrom(0 as const, 2 as const), instanceId, accessKeyId, fc.option(securityToken, { nil: undefined }), (type, i, a, token) => {
    const withToken = type === 0 ? token : undefined
    const parsed = parseUserName(encodeUserName({ type, instanceId: i, accessKeyId: a, ...(withToken !== undefined ? { securityToken: withToken } : {}) }))
    if (!parsed.ok) throw new Error(parsed.detail)
    assert.equal(parsed.value.type, type)
    assert.equal(parsed.value.instanceId, i)
    assert.equal(parsed.value.accessKeyId, a)
    assert.equal(parsed.value.kind, withToken !== undefined ? 'sts' : type === 0 ? 'dynamic' : 'static')
    if (parsed.value.kind === 'sts') assert.equal(parsed.value.securityToken, withToken)
  }), { numRuns: RUNS })
  fc.assert(fc.property(fc.string({ maxLength: 40 }), timestamp, (secret, ts) => {
    const parsed = parsePassword(passwordFor(secret, ts))
    if (!parsed.ok) throw new Error(parsed.detail)
    assert.equal(parsed.value.ts, ts)
    assert.match(parsed.value.hexSignature, /^[0-9A-F]{40}$/)
  }), { numRuns: RUNS })
  t.pass('round trips')
})
