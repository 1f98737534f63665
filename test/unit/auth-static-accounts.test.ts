import t, { type Test } from 'tap'
import type { AccessKeyService } from '../../src/auth/access-keys'
import { encodeUserName, passwordFor, secretSignFor, signatureFor } from '../../src/auth/credentials'
import { StaticAccountService } from '../../src/auth/static-accounts'
import { InstanceService } from '../../src/instances/instance-service'
import type { EmbeddedStore } from '../../src/store/embedded'
import { authStore } from '../helpers/auth-fixture'
import { rejectsWith } from '../helpers/rejects'

const INSTANCE = 'amqp-1'
const TS = '1700000000000'

interface Fixture { store: EmbeddedStore; keys: AccessKeyService; statics: StaticAccountService; ak: string; sk: string }

async function setup(t: Test): Promise<Fixture> {
  const { store, keys } = await authStore(t, { tmpPrefix: 'portcullis-auth-static-' })
  const instances = new InstanceService(store)
  await instances.create({ id: INSTANCE, protocol: 'amqp', hostnames: ['amqp-1.example.com'], backend: { host: '127.0.0.1', port: 5672 } })
  await instances.create({ id: 'amqp-2', protocol: 'amqp', hostnames: ['amqp-2.example.com'], backend: { host: '127.0.0.1', port: 5672 } })
  await instances.create({ id: 'mqtt-1', protocol: 'mqtt', hostnames: ['mqtt-1.example.com'], backend: { kind: 'embedded' } })
  const { accessKeyId: ak, accessKeySecret: sk } = await keys.create()
  return { store, keys, statics: new StaticAccountService(store, keys), ak, sk }
}

/** A CreateAccount body as an Aliyun client computes it. */
function request(ak: string, sk: string, instanceId = INSTANCE, ts = TS): Record<string, unknown> {
  return {
    instanceId,
    accountAccessKey: ak,
    userName: encodeUserName({ type: 2, instanceId, accessKeyId: ak }),
    createTimestamp: Number(ts),
    signature: signatureFor(sk, ts),
    secretSign: secretSignFor(sk, ts),
  }
}

t.test('creates a static account and answers the userName and the password once', async (t) => {
  const { store, statics, ak, sk } = await setup(t)
  const answer = await statics.create(INSTANCE, request(ak, sk))
  t.equal(answer.userName, encodeUserName({ type: 2, instanceId: INSTANCE, accessKeyId: ak }))
  t.equal(answer.password, passwordFor(sk, TS))
  t.equal(answer.accessKey, ak)
  t.equal(answer.createTimestamp, Number(TS))
  t.equal(answer.instanceId, INSTANCE)
  const listed = await statics.list(INSTANCE)
  t.same(listed, [answer.after])
  t.notMatch(JSON.stringify(listed), answer.password, 'list never answers a password')
  t.notMatch(JSON.stringify(await store.list('staticAccounts', INSTANCE)), answer.password, 'no password is stored')
})

t.test('accepts upper- or lower-case hex and a createTimestamp sent as a string', async (t) => {
  const { statics, ak, sk } = await setup(t)
  const body = { ...request(ak, sk), createTimestamp: TS, signature: signatureFor(sk, TS).toLowerCase() }
  t.equal((await statics.create(INSTANCE, body)).createTimestamp, Number(TS))
})

t.test('refuses a bad signature or secretSign with SIGNATURE_INVALID', async (t) => {
  const { statics, ak, sk } = await setup(t)
  await rejectsWith(t, statics.create(INSTANCE, { ...request(ak, sk), signature: signatureFor('wrong', TS) }), 'SIGNATURE_INVALID', /^signature/)
  await rejectsWith(t, statics.create(INSTANCE, { ...request(ak, sk), secretSign: secretSignFor('wrong', TS) }), 'SIGNATURE_INVALID', /^secretSign/)
  await rejectsWith(t, statics.create(INSTANCE, { ...request(ak, sk), createTimestamp: Number(TS) + 1 }), 'SIGNATURE_INVALID')
  t.same(await statics.list(INSTANCE), [])
})

t.test('refuses a userName that is not TYPE 2 for this instance and this AccessKey', async (t) => {
  const { keys, statics, ak, sk } = await setup(t)
  const other = await keys.create()
  const cases: Array<[string, string, RegExp]> = [
    ['dynamic TYPE 0', encodeUserName({ type: 0, instanceId: INSTANCE, accessKeyId: ak }), /TYPE 2/],
    ['another instance', encodeUserName({ type: 2, instanceId: 'amqp-2', accessKeyId: ak }), /names instance amqp-2/],
    ['another AccessKey', encodeUserName({ type: 2, instanceId: INSTANCE, accessKeyId: other.accessKeyId }), /another AccessKey/],
    ['not Base64', 'not base64!', /userName is not canonical Base64/],
  ]
  for (const [name, userName, mentions] of cases) {
    t.test(name, (t) => rejectsWith(t, statics.create(INSTANCE, { ...request(ak, sk), userName }), 'VALIDATION_FAILED', mentions))
  }
})

t.test('refuses malformed requests with VALIDATION_FAILED naming the fields', async (t) => {
  const { statics, ak, sk } = await setup(t)
  const base = request(ak, sk)
  await rejectsWith(t, statics.create(INSTANCE, null), 'VALIDATION_FAILED')
  await rejectsWith(t, statics.create(INSTANCE, { ...base, signature: 'xyz' }), 'VALIDATION_FAILED', /signature must be 40 hex/)
  await rejectsWith(t, statics.create(INSTANCE, { ...base, createTimestamp: -5 }), 'VALIDATION_FAILED', /createTimestamp/)
  await rejectsWith(t, statics.create(INSTANCE, { ...base, createTimestamp: '12.5' }), 'VALIDATION_FAILED', /createTimestamp/)
  await rejectsWith(t, statics.create(INSTANCE, { ...base, accountAccessKey: undefined }), 'VALIDATION_FAILED', /accountAccessKey/)
  await rejectsWith(t, statics.create(INSTANCE, { ...base, instanceId: 'amqp-2' }), 'VALIDATION_FAILED', /request path/)
})

t.test('refuses an unknown or disabled AccessKey and an unknown or non-AMQP instance', async (t) => {
  const { keys, statics, ak, sk } = await setup(t)
  const ghost = 'LTAIghostghostghostghost'
  await rejectsWith(t, statics.create(INSTANCE, request(ghost, sk)), 'NOT_FOUND', /AccessKey/)
  await keys.setStatus(ak, 'Inactive')
  await rejectsWith(t, statics.create(INSTANCE, request(ak, sk)), 'ACCESS_KEY_INACTIVE')
  await keys.setStatus(ak, 'Active')
  await rejectsWith(t, statics.create('nope', request(ak, sk, 'nope')), 'NOT_FOUND', /instance/)
  await rejectsWith(t, statics.create('mqtt-1', request(ak, sk, 'mqtt-1')), 'VALIDATION_FAILED', /not an AMQP instance/)
})

t.test('allows one static account per AccessKey per instance', async (t) => {
  const { statics, ak, sk } = await setup(t)
  await statics.create(INSTANCE, request(ak, sk))
  await rejectsWith(t, statics.create(INSTANCE, request(ak, sk, INSTANCE, '1700000000999')), 'STATIC_ACCOUNT_EXISTS')
  t.ok(await statics.create('amqp-2', request(ak, sk, 'amqp-2')), 'the same AccessKey on another instance is fine')
  const { before } = await statics.delete(INSTANCE, ak)
  t.equal(before.accessKey, ak)
  t.ok(await statics.create(INSTANCE, request(ak, sk, INSTANCE, '1700000000999')), 'delete and recreate changes it')
  await rejectsWith(t, statics.delete(INSTANCE, 'LTAIghost'), 'NOT_FOUND')
  await rejectsWith(t, statics.list('nope'), 'NOT_FOUND')
})
