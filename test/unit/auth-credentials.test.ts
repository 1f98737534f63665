import { createHmac } from 'node:crypto'
import t from 'tap'
import {
  deriveCredentials, encodeUserName, hexEqual, INSTANCE_ID, MAX_USERNAME_LENGTH, parsePassword, parseUserName,
  passwordFor, secretSignFor, signatureFor,
} from '../../src/auth/credentials'
import { INSTANCE_ID as SCHEMA_INSTANCE_ID } from '../../src/instances/instance-schema'
import { isPortcullisError } from '../../src/errors'

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64')
const TOKEN = `${'A'.repeat(40)}.${'B'.repeat(43)}`

t.test('reproduces the DESIGN §1 test vector', async (t) => {
  t.equal(encodeUserName({ type: 0, instanceId: '123123123', accessKeyId: 'ak' }), 'MDoxMjMxMjMxMjM6YWs=')
  t.equal(passwordFor('sk', '1000'), 'RTEyMjUzODUwMDg0QjE5ODkwNUE4N0Q3NDI4NTJEMEUwQTZGQTEyMzoxMDAw')
  t.equal(Buffer.from(passwordFor('sk', '1000'), 'base64').toString(), 'E12253850084B198905A87D742852D0E0A6FA123:1000')
  t.same(parseUserName('MDoxMjMxMjMxMjM6YWs='), { ok: true, value: { kind: 'dynamic', type: 0, instanceId: '123123123', accessKeyId: 'ak' } })
  t.same(parsePassword('RTEyMjUzODUwMDg0QjE5ODkwNUE4N0Q3NDI4NTJEMEUwQTZGQTEyMzoxMDAw'), {
    ok: true, value: { hexSignature: 'E12253850084B198905A87D742852D0E0A6FA123', ts: '1000' },
  })
})

t.test('parses static and STS userNames into their kinds', async (t) => {
  t.same(parseUserName(b64('2:inst-1:LTAIabc')), { ok: true, value: { kind: 'static', type: 2, instanceId: 'inst-1', accessKeyId: 'LTAIabc' } })
  t.same(parseUserName(b64(`0:inst-1:LTAIabc:${TOKEN}`)), {
    ok: true, value: { kind: 'sts', type: 0, instanceId: 'inst-1', accessKeyId: 'LTAIabc', securityToken: TOKEN },
  })
  t.equal(encodeUserName({ type: 0, instanceId: 'inst-1', accessKeyId: 'LTAIabc', securityToken: TOKEN }), b64(`0:inst-1:LTAIabc:${TOKEN}`))
})

t.test('refuses malformed userNames with BAD_CREDENTIALS and a precise detail', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['empty', '', /empty/],
    ['not Base64 at all', 'not base64!', /canonical Base64/],
    ['Base64 without padding', 'MDoxMjMxMjMxMjM6YWs', /canonical Base64/],
    ['Base64 with non-zero pad bits', 'MDoxMjMxMjMxMjM6YWt=', /canonical Base64/],
    ['URL-safe alphabet', b64('0:i:a?>').replace(/\//g, '_').replace(/\+/g, '-'), /canonical Base64/],
    ['embedded whitespace', 'MDox MjMxMjMxMjM6YWs=', /canonical Base64/],
    ['invalid UTF-8', Buffer.from([0x30, 0x3a, 0xff, 0x3a, 0x61]).toString('base64'), /UTF-8/],
    ['too few fields', b64('0:inst'), /2 fields/],
    ['too many fields', b64(`0:inst:ak:${TOKEN}:extra`), /5 fields/],
    ['unknown TYPE', b64('1:inst:ak'), /TYPE/],
    ['TYPE with a sign', b64('+0:inst:ak'), /TYPE/],
    ['empty instance', b64('0::ak'), /instanceId/],
    ['instance with a space', b64('0:in st:ak'), /instanceId/],
    ['empty AccessKey', b64('0:inst:'), /accessKeyId/],
    ['static user with a token', b64(`2:inst:ak:${TOKEN}`), /only valid with TYPE 0/],
    ['malformed token', b64('0:inst:ak:not-a-token'), /token is malformed/],
    ['huge input', 'A'.repeat(MAX_USERNAME_LENGTH + 4), /longer than/],
  ]
  for (const [name, input, detail] of cases) {
    const r = parseUserName(input)
    t.equal(r.ok, false, `${name} is refused`)
    if (!r.ok) {
      t.equal(r.reason, 'BAD_CREDENTIALS', `${name}: reason`)
      t.match(r.detail, detail, `${name}: detail`)
    }
  }
})

t.test('refuses malformed passwords', async (t) => {
  const hex = 'E12253850084B198905A87D742852D0E0A6FA123'
  const cases: Array<[string, string, RegExp]> = [
    ['empty', '', /empty/],
    ['not Base64', '***', /canonical Base64/],
    ['no timestamp', b64(hex), /HEX_SIGNATURE:timestamp/],
    ['three fields', b64(`${hex}:1000:1`), /HEX_SIGNATURE:timestamp/],
    ['short signature', b64(`${hex.slice(1)}:1000`), /40 hex/],
    ['non-hex signature', b64(`${hex.slice(1)}G:1000`), /40 hex/],
    ['negative timestamp', b64(`${hex}:-1000`), /timestamp/],
    ['leading zero', b64(`${hex}:01000`), /timestamp/],
    ['fractional timestamp', b64(`${hex}:1000.5`), /timestamp/],
    ['17-digit timestamp', b64(`${hex}:12345678901234567`), /timestamp/],
    ['huge input', 'A'.repeat(4096), /longer than/],
  ]
  for (const [name, input, detail] of cases) {
    const r = parsePassword(input)
    t.equal(r.ok, false, `${name} is refused`)
    if (!r.ok) t.match(r.detail, detail, `${name}: detail`)
  }
  const lower = parsePassword(b64(`${hex.toLowerCase()}:1000`))
  t.ok(lower.ok && lower.value.hexSignature === hex, 'a lower-case signature is read as upper case')
})

t.test('computes CreateAccount signature and secretSign as DESIGN §1 defines them', async (t) => {
  const secret = 'sk'
  const ts = '1700000000000'
  t.equal(signatureFor(secret, ts), createHmac('sha1', secret).update(ts).digest('hex').toUpperCase())
  t.equal(secretSignFor(secret, ts), createHmac('sha1', ts).update(secret).digest('hex').toUpperCase())
  t.equal(secretSignFor('sk', '1000'), 'E12253850084B198905A87D742852D0E0A6FA123', 'secretSign is the password signature')
})

t.test('compares hex signatures case-insensitively and refuses different lengths', async (t) => {
  t.ok(hexEqual('abcdef', 'ABCDEF'))
  t.notOk(hexEqual('abcdef', 'ABCDEE'))
  t.notOk(hexEqual('abcdef', 'ABCDEF00'))
})

t.test('refuses to encode a userName that could not be parsed back', async (t) => {
  const bad = [
    () => encodeUserName({ type: 0, instanceId: 'a:b', accessKeyId: 'ak' }),
    () => encodeUserName({ type: 0, instanceId: 'inst', accessKeyId: 'a:k' }),
    () => encodeUserName({ type: 2, instanceId: 'inst', accessKeyId: 'ak', securityToken: TOKEN }),
  ]
  for (const f of bad) {
    try {
      f()
      t.fail('expected VALIDATION_FAILED')
    } catch (err) {
      t.ok(isPortcullisError(err, 'VALIDATION_FAILED'), 'refused with VALIDATION_FAILED')
    }
  }
})

t.test('derives dynamic and static credentials for the CLI', async (t) => {
  const dyn = deriveCredentials({ instanceId: '123123123', accessKeyId: 'ak', accessKeySecret: 'sk', ts: '1000', kind: 'dynamic' })
  t.same(dyn, { userName: 'MDoxMjMxMjMxMjM6YWs=', password: 'RTEyMjUzODUwMDg0QjE5ODkwNUE4N0Q3NDI4NTJEMEUwQTZGQTEyMzoxMDAw' })
  const stat = deriveCredentials({ instanceId: '123123123', accessKeyId: 'ak', accessKeySecret: 'sk', ts: '1000', kind: 'static' })
  t.equal(Buffer.from(stat.userName, 'base64').toString(), '2:123123123:ak')
})

t.test('accepts exactly the instance ids the instance schema accepts', async (t) => {
  t.equal(INSTANCE_ID.source, SCHEMA_INSTANCE_ID.source)
})
