import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { BlacklistAddInput } from '../../src/blacklist/blacklist-entry'
import { BlacklistService } from '../../src/blacklist/blacklist-service'
import { isPortcullisError, type ErrorCode } from '../../src/errors'
import { InstanceService } from '../../src/instances/instance-service'
import { EmbeddedStore } from '../../src/store/embedded'
import { GLOBAL_SCOPE } from '../../src/store/records'

const NOW = Date.parse('2026-03-01T12:00:00.000Z')
const FINGERPRINT = 'ab'.repeat(32)

async function setup(t: Test): Promise<{ store: EmbeddedStore; service: BlacklistService }> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-blacklist-'))
  const store = await EmbeddedStore.open({ dataDir: dir })
  t.teardown(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })
  await new InstanceService(store).create({ id: 'mq-1', protocol: 'mqtt' })
  return { store, service: new BlacklistService(store, () => new Date(NOW)) }
}

t.test('each kind is accepted and stored in the form the data path compares', async (t) => {
  const { store, service } = await setup(t)
  const cases: Array<[BlacklistAddInput['kind'], string, string]> = [
    ['accessKey', 'LTAI5tAbCdEfGhIjKlMnOpQr', 'LTAI5tAbCdEfGhIjKlMnOpQr'],
    ['account', 'MjpyYWJiaXQ6TFRBSTV0', 'MjpyYWJiaXQ6TFRBSTV0'],
    ['username', 'Alice', 'Alice'],
    ['clientId', 'sensor/7 ünïcode', 'sensor/7 ünïcode'],
    ['certFingerprint', FINGERPRINT.toUpperCase().match(/../g)!.join(':'), FINGERPRINT],
    ['ip', '203.0.113.7', '203.0.113.7'],
    ['ip', '10.0.0.0/8', '10.0.0.0/8'],
    ['ip', '2001:DB8:0:0::1', '2001:db8::1'],
    ['ip', '2001:db8::/32', '2001:db8::/32'],
    ['ip', '::ffff:192.0.2.1', '192.0.2.1'],
  ]
  for (const [kind, value, stored] of cases) {
    const entry = await service.add({ kind, value }, 'PCROOTTEST')
    t.match(entry, { id: /^bl-[0-9a-f]{16}$/, kind, value: stored, actor: 'PCROOTTEST', createdAt: '2026-03-01T12:00:00.000Z', expired: false }, `${kind} ${value}`)
    t.notOk('instanceId' in entry || 'expiresAt' in entry || 'reason' in entry, 'absent options stay absent')
    const record = await store.get('blacklist', GLOBAL_SCOPE, entry.id)
    t.equal(record?.value, stored, 'stored under the global scope, normalised')
    t.notOk(record !== undefined && 'expired' in record, 'the computed flag is not stored')
  }
})

t.test('an instance-scoped entry with reason and expiry keeps them, the expiry in UTC', async (t) => {
  const { service } = await setup(t)
  const entry = await service.add({ kind: 'clientId', value: 'dev-1', instanceId: 'mq-1', reason: 'stolen device', expiresAt: '2026-03-02T14:00:00+02:00' }, 'LTAIoperator')
  t.match(entry, { instanceId: 'mq-1', reason: 'stolen device', expiresAt: '2026-03-02T12:00:00.000Z', actor: 'LTAIoperator', expired: false })
})

t.test('malformed entries are refused with VALIDATION_FAILED and nothing is stored', async (t) => {
  const { store, service } = await setup(t)
  const refused: Array<[string, unknown, RegExp]> = [
    ['an unknown kind', { kind: 'email', value: 'x@example.com' }, /kind/],
    ['an empty value', { kind: 'username', value: '' }, /value/],
    ['a value over the cap', { kind: 'username', value: 'u'.repeat(1025) }, /value/],
    ['a value with U+0000', { kind: 'clientId', value: 'a\u0000b' }, /U\+0000/],
    ['an unknown body key', { kind: 'ip', value: '10.0.0.1', scope: 'global' }, /scope/],
    ['an octet over 255', { kind: 'ip', value: '10.0.0.256' }, /ip must be/],
    ['a three-part address', { kind: 'ip', value: '10.0.1' }, /ip must be/],
    ['a host name', { kind: 'ip', value: 'broker.example.com' }, /ip must be/],
    ['an IPv4 prefix over 32', { kind: 'ip', value: '10.0.0.0/33' }, /prefix/],
    ['an IPv6 prefix over 128', { kind: 'ip', value: '2001:db8::/129' }, /prefix/],
    ['a non-numeric prefix', { kind: 'ip', value: '10.0.0.0/8a' }, /prefix/],
    ['two slashes', { kind: 'ip', value: '10.0.0.0/8/8' }, /ip must be/],
    ['a zone id', { kind: 'ip', value: 'fe80::1%eth0' }, /ip must be/],
    ['an IPv4-mapped range', { kind: 'ip', value: '::ffff:10.0.0.0/104' }, /IPv4-mapped range as the IPv4 range/],
    ['a 63-digit fingerprint', { kind: 'certFingerprint', value: FINGERPRINT.slice(1) }, /64 hex/],
    ['a SHA-1 fingerprint', { kind: 'certFingerprint', value: 'ab'.repeat(20) }, /64 hex/],
    ['a non-hex fingerprint', { kind: 'certFingerprint', value: 'zz'.repeat(32) }, /64 hex/],
    ['an expiry in the past', { kind: 'username', value: 'bob', expiresAt: '2026-03-01T11:59:59Z' }, /not in the future/],
    ['an expiry equal to now', { kind: 'username', value: 'bob', expiresAt: '2026-03-01T12:00:00Z' }, /not in the future/],
    ['a date without a time', { kind: 'username', value: 'bob', expiresAt: '2026-03-02' }, /expiresAt/],
    ['a non-date expiry', { kind: 'username', value: 'bob', expiresAt: 'tomorrow' }, /expiresAt/],
    ['a reason over the cap', { kind: 'username', value: 'bob', reason: 'r'.repeat(513) }, /reason/],
    ['a reason with a newline', { kind: 'username', value: 'bob', reason: 'line\nbreak' }, /reason/],
    ['a malformed instance id', { kind: 'username', value: 'bob', instanceId: 'no spaces' }, /instanceId/],
  ]
  for (const [what, input, mentions] of refused) {
    await rejectsWith(t, service.add(input as BlacklistAddInput, 'PCROOTTEST'), 'VALIDATION_FAILED', mentions, what)
  }
  t.equal(await store.count('blacklist', GLOBAL_SCOPE), 0)
})

t.test('an entry naming an instance that does not exist is refused with NOT_FOUND', async (t) => {
  const { store, service } = await setup(t)
  await rejectsWith(t, service.add({ kind: 'username', value: 'bob', instanceId: 'ghost' }, 'PCROOTTEST'), 'NOT_FOUND', /instance ghost does not exist/, 'unknown instance')
  t.equal(await store.count('blacklist', GLOBAL_SCOPE), 0)
})

t.test('an entry without an actor is refused', async (t) => {
  const { service } = await setup(t)
  await rejectsWith(t, service.add({ kind: 'username', value: 'bob' }, ''), 'VALIDATION_FAILED', /actor/, 'empty actor')
})

async function rejectsWith(t: Test, promise: Promise<unknown>, code: ErrorCode, mentions: RegExp, what: string): Promise<void> {
  try {
    await promise
    t.fail(`${what}: expected ${code}`)
  } catch (err) {
    t.ok(isPortcullisError(err, code), `${what}: refused with ${code} (got ${(err as Error).message})`)
    t.match((err as Error).message, mentions, `${what}: the message says why`)
  }
}
