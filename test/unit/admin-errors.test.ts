import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { HTTP_STATUS, toErrorResponse } from '../../src/admin/errors'
import { ERROR_CODES, PortcullisError, type ErrorCode } from '../../src/errors'

t.test('every error code has an HTTP status', async (t) => {
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    const status = HTTP_STATUS[code]
    t.ok(Number.isInteger(status) && status >= 400 && status <= 599, `${code} → ${status}`)
  }
  t.same(Object.keys(HTTP_STATUS).sort(), Object.keys(ERROR_CODES).sort(), 'no status for a code that does not exist')
})

t.test('signature failures are 401, conflicts 409, an unreachable store 503', async (t) => {
  for (const code of ['SIGNATURE_INVALID', 'SIGNATURE_MISSING', 'SIGNATURE_EXPIRED', 'NONCE_REUSED'] as const) t.equal(HTTP_STATUS[code], 401, code)
  for (const code of ['ALREADY_EXISTS', 'CA_DUPLICATE', 'STATIC_ACCOUNT_EXISTS', 'CA_HAS_ACTIVE_DEVICES', 'CA_LIMIT_EXCEEDED'] as const) t.equal(HTTP_STATUS[code], 409, code)
  t.equal(HTTP_STATUS.NOT_FOUND, 404)
  t.equal(HTTP_STATUS.STORE_UNAVAILABLE, 503)
  t.equal(HTTP_STATUS.BODY_TOO_LARGE, 413)
})

t.test('an error answer carries code, message and request id', async (t) => {
  const { status, body } = toErrorResponse(new PortcullisError('NOT_FOUND', 'instance x does not exist'), 'req-1')
  t.equal(status, 404)
  t.same(body, { code: 'NOT_FOUND', message: 'instance x does not exist', requestId: 'req-1' })
})

t.test('an unexpected error answers 500 INTERNAL without its message', async (t) => {
  const { status, body } = toErrorResponse(new Error('ENOENT /secret/path/store.log'), 'req-2')
  t.equal(status, 500)
  t.same(body, { code: 'INTERNAL', message: ERROR_CODES.INTERNAL, requestId: 'req-2' })
  const internal = toErrorResponse(new PortcullisError('INTERNAL', 'stack detail'), 'req-3')
  t.equal(internal.body.message, ERROR_CODES.INTERNAL, 'even an INTERNAL PortcullisError hides its detail')
})

t.test('every error code is documented in the README table with its status', async (t) => {
  const readme = await readFile(join(__dirname, '../../README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('#### Admin API errors'))
  const rows = section.split('\n').filter((l) => /^\| \d{3} \|/.test(l))
  t.ok(rows.length > 0, 'the table is there')
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    const row = rows.find((r) => r.includes(`\`${code}\``))
    t.ok(row !== undefined, `${code} is documented`)
    if (row !== undefined) t.equal(Number(row.slice(2, 5)), HTTP_STATUS[code], `${code} is documented with its status ${HTTP_STATUS[code]}`)
  }
})

t.test('auth refusals say which check failed: 401 for authentication, 403 for a key not allowed', async (t) => {
  for (const code of ['ACCESS_KEY_UNKNOWN', 'SIGNATURE_INVALID', 'SIGNATURE_EXPIRED', 'NONCE_REUSED'] as const) t.equal(HTTP_STATUS[code], 401, code)
  t.equal(HTTP_STATUS.ACCESS_DENIED, 403)
  t.equal(HTTP_STATUS.INSTANCE_IN_USE, 409)
})
