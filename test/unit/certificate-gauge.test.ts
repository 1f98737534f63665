import t from 'tap'
import { createHash, X509Certificate } from 'node:crypto'
import pino from 'pino'
import { createCa, createLeaf, type KeyAndCert } from '../../src/ca/pki'
import type { AuditInput } from '../../src/audit/event'
import { Metrics } from '../../src/observability/metrics'
import { watchCaGauge } from '../../src/observability/ca-gauge'
import { InstanceDirectory } from '../../src/proxy/instance-directory'
import { GLOBAL_SCOPE, type InstanceRecord } from '../../src/store/records'
import type { Store } from '../../src/store/store'
import { certificateFacts } from '../../src/tls/certificate-facts'
import { checkKeyPair } from '../../src/tls/key-pair'
import { ServerCertificates } from '../../src/tls/server-certificates'
import { caRecord, tempStore } from '../helpers/pki'
import type { Test } from '../helpers/services'

const DAY_MS = 86_400_000

async function serverPair(days: number): Promise<KeyAndCert> {
  const ca = await createCa({ commonName: 'gauge server CA' })
  return createLeaf({ commonName: 'localhost', issuer: ca, kind: 'server', dnsNames: ['localhost'], notAfter: new Date(Date.now() + days * DAY_MS) })
}

function instance(id: string, own?: KeyAndCert): InstanceRecord {
  const at = new Date().toISOString()
  return {
    id, protocol: 'mqtt', hostnames: [`${id}.example`], backend: { kind: 'embedded' }, accessType: 'ANY_TUNNEL',
    options: { newDeviceStatus: 'ACTIVE', autoRegisterDevices: true, replaceBackendCredentials: false, usernameFromCertificate: false },
    createdAt: at, updatedAt: at,
    ...(own !== undefined ? { serverCertificate: { certificate: own.cert, privateKey: own.key } } : {}),
  }
}

async function expiry(metrics: Metrics): Promise<Record<string, number>> {
  const { values } = await metrics.certificateExpiry.get()
  return Object.fromEntries(values.map((v) => [`${v.labels['instance']}/${v.labels['kind']}`, v.value]))
}

async function rotations(metrics: Metrics): Promise<Record<string, number>> {
  const { values } = await metrics.certificateRotations.get()
  return Object.fromEntries(values.map((v) => [`${v.labels['instance']}/${v.labels['kind']}`, v.value]))
}

const notAfterSeconds = (pair: KeyAndCert): number => Math.floor(Date.parse(new X509Certificate(pair.cert).validTo) / 1000)

async function until(t: Test, what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 3000
  while (!(await check())) {
    if (Date.now() > deadline) return void t.fail(`timed out: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

async function tracked(t: Test): Promise<{ store: Store; metrics: Metrics; events: AuditInput[]; certs: ServerCertificates; directory: InstanceDirectory }> {
  const store = await tempStore(t)
  const metrics = new Metrics()
  const events: AuditInput[] = []
  const certs = new ServerCertificates({ metrics, audit: { record: (e) => events.push(e) }, logger: pino({ level: 'silent' }) })
  const directory = await InstanceDirectory.load(store)
  t.teardown(() => directory.close())
  return { store, metrics, events, certs, directory }
}

t.test('certificate facts: SHA-256 of the DER in lowercase hex, notAfter in ISO and Unix seconds', async (t) => {
  const pair = await serverPair(10)
  const facts = certificateFacts(pair.cert)
  const cert = new X509Certificate(pair.cert)
  t.equal(facts.fingerprint, createHash('sha256').update(cert.raw).digest('hex'))
  t.equal(facts.fingerprint, cert.fingerprint256.replaceAll(':', '').toLowerCase(), 'what openssl -fingerprint -sha256 prints, without colons')
  t.equal(facts.notAfterSeconds, notAfterSeconds(pair))
  t.equal(Date.parse(facts.notAfter) / 1000, facts.notAfterSeconds)
  t.throws(() => certificateFacts('not a certificate'))
})

t.test('a key pair whose key belongs to another certificate is refused', async (t) => {
  const a = await serverPair(10)
  const b = await serverPair(10)
  t.doesNotThrow(() => checkKeyPair(a))
  t.throws(() => checkKeyPair({ cert: a.cert, key: b.key }), /does not belong/)
})

t.test('the default pair: baseline at start, a rotation only when the fingerprint changes', async (t) => {
  const { metrics, events, certs } = await tracked(t)
  const first = await serverPair(40)
  certs.presentDefault(first, 'files')
  t.same(await expiry(metrics), { '-/server': notAfterSeconds(first) }, 'the expiry of the default certificate under instance -')
  t.same(await rotations(metrics), {}, 'the first pair is no rotation')
  certs.presentDefault({ cert: first.cert, key: first.key }, 'reload')
  t.same(events, [], 'the same certificate again (a reload that changed only the profile) is no rotation')

  const second = await serverPair(90)
  certs.presentDefault(second, 'files')
  t.same(await expiry(metrics), { '-/server': notAfterSeconds(second) })
  t.same(await rotations(metrics), { '-/server': 1 })
  t.equal(events.length, 1)
  const event = events[0] as AuditInput
  t.equal(event.type, 'tls.certificate.rotated')
  t.equal(event.instanceId, undefined, 'the default pair belongs to no instance')
  t.same(event.details, {
    instance: '-', kind: 'server', source: 'files',
    fingerprintBefore: certificateFacts(first.cert).fingerprint, fingerprintAfter: certificateFacts(second.cert).fingerprint,
    notAfter: certificateFacts(second.cert).notAfter,
  })
  t.notMatch(JSON.stringify(events), /PRIVATE KEY/, 'no key material in the event')
})

t.test('an instance\'s own certificate: set, replaced, removed, each change once', async (t) => {
  const { store, metrics, events, certs, directory } = await tracked(t)
  const fallback = await serverPair(30)
  certs.presentDefault(fallback, 'files')
  const own = await serverPair(60)
  await store.put('instances', GLOBAL_SCOPE, 'with-own', instance('with-own', own))
  await store.put('instances', GLOBAL_SCOPE, 'plain', instance('plain'))
  await until(t, 'directory loaded', async () => directory.all().length === 2)
  const stop = certs.follow(directory)
  t.same(await expiry(metrics), { '-/server': notAfterSeconds(fallback), 'with-own/server': notAfterSeconds(own) },
    'an instance with its own certificate has a series; one presenting the default has none')

  await store.put('instances', GLOBAL_SCOPE, 'with-own', { ...instance('with-own', own), accessType: 'SINGLE_TUNNEL', vpcId: 'vpc-1' })
  await until(t, 'patch seen', async () => directory.get('with-own')?.accessType === 'SINGLE_TUNNEL')
  t.same(events, [], 'a change of other fields is no rotation')

  const renewed = await serverPair(120)
  await store.put('instances', GLOBAL_SCOPE, 'with-own', instance('with-own', renewed))
  await until(t, 'renewal counted', async () => (await rotations(metrics))['with-own/server'] === 1)
  t.equal((await expiry(metrics))['with-own/server'], notAfterSeconds(renewed))
  t.match(events[0], { type: 'tls.certificate.rotated', instanceId: 'with-own', details: { source: 'instance', fingerprintBefore: certificateFacts(own.cert).fingerprint, fingerprintAfter: certificateFacts(renewed.cert).fingerprint } })

  await store.put('instances', GLOBAL_SCOPE, 'plain', instance('plain', own))
  await until(t, 'own certificate added', async () => (await rotations(metrics))['plain/server'] === 1)
  t.match(events[1]?.details, { fingerprintBefore: certificateFacts(fallback.cert).fingerprint, fingerprintAfter: certificateFacts(own.cert).fingerprint },
    'an instance that takes a certificate of its own rotates from the default one')

  await store.put('instances', GLOBAL_SCOPE, 'with-own', instance('with-own'))
  await until(t, 'own certificate removed', async () => (await rotations(metrics))['with-own/server'] === 2)
  t.equal((await expiry(metrics))['with-own/server'], undefined, 'back on the default certificate: no series of its own')
  t.match(events[2]?.details, { fingerprintAfter: certificateFacts(fallback.cert).fingerprint })

  await store.delete('instances', GLOBAL_SCOPE, 'plain')
  await until(t, 'deleted', async () => directory.get('plain') === undefined)
  t.equal((await expiry(metrics))['plain/server'], undefined, 'a deleted instance leaves no series')
  t.equal(events.length, 3, 'and its deletion is no rotation')
  await directory.reload(store)
  t.equal(events.length, 3, 'a resync that re-reads every instance rotates nothing')
  stop()
})

t.test('the CA expiry is the earliest ACTIVE CA per instance, kept current by change notifications', async (t) => {
  const store = await tempStore(t)
  const metrics = new Metrics()
  const soon = await createCa({ commonName: 'soon', notAfter: new Date(Date.now() + 20 * DAY_MS) })
  const later = await createCa({ commonName: 'later', notAfter: new Date(Date.now() + 200 * DAY_MS) })
  const soonest = await createCa({ commonName: 'soonest but inactive', notAfter: new Date(Date.now() + 5 * DAY_MS) })
  const [soonRec, laterRec, inactiveRec] = [caRecord(soon, 'ACTIVE', 'i1'), caRecord(later, 'ACTIVE', 'i1'), caRecord(soonest, 'INACTIVE', 'i1')]
  for (const rec of [soonRec, laterRec, inactiveRec]) await store.put('cas', 'i1', rec.id, rec)
  const stop = await watchCaGauge(store, metrics)
  t.teardown(stop)
  t.same(await expiry(metrics), { 'i1/ca': notAfterSeconds(soon) }, 'the soonest ACTIVE one; an INACTIVE CA admits nobody')
  const counts = (await metrics.caCertificates.get()).values.map((v) => [v.labels['status'], v.value])
  t.same(counts, [['ACTIVE', 2], ['INACTIVE', 1]])

  await store.put('cas', 'i1', soonRec.id, { ...soonRec, status: 'INACTIVE' })
  await until(t, 'deactivation seen', async () => (await expiry(metrics))['i1/ca'] === notAfterSeconds(later))
  t.pass('deactivating the expiring CA moves the series to its successor')
  await store.put('cas', 'i1', laterRec.id, { ...laterRec, status: 'INACTIVE' })
  await until(t, 'none active', async () => (await expiry(metrics))['i1/ca'] === undefined)
  t.pass('an instance without an ACTIVE CA has no CA series')
  const text = await metrics.render()
  t.notMatch(text, /portcullis_ca_certificate_not_after_seconds/, 'the per-CA gauge it replaces is gone')
  t.match(text, /^# TYPE portcullis_certificate_rotations_total counter/m)
})
