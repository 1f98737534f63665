import t, { type Test } from 'tap'
import type { AccessKeyService } from '../../src/auth/access-keys'
import { AmqpAuthenticator, type AuthResult } from '../../src/auth/authenticate'
import { deriveCredentials, encodeUserName, passwordFor, secretSignFor, signatureFor } from '../../src/auth/credentials'
import { SecurityTokens } from '../../src/auth/security-tokens'
import { StaticAccountService } from '../../src/auth/static-accounts'
import { InstanceService } from '../../src/instances/instance-service'
import { GLOBAL_SCOPE } from '../../src/store/records'
import { authStore } from '../helpers/auth-fixture'

const INSTANCE = 'amqp-1'
const NOW = Date.parse('2026-11-24T08:00:00Z')
const WINDOW = 15 * 60_000
const STATIC_TS = '1700000000000'

interface Fixture {
  auth: AmqpAuthenticator
  keys: AccessKeyService
  statics: StaticAccountService
  tokens: SecurityTokens
  ak: string
  sk: string
}

async function setup(t: Test): Promise<Fixture> {
  const { store, keyring, keys } = await authStore(t, { tmpPrefix: 'portcullis-auth-authn-' })
  const instances = new InstanceService(store)
  for (const id of [INSTANCE, 'amqp-2']) {
    await instances.create({ id, protocol: 'amqp', hostnames: [`${id}.example.com`], backend: { host: '127.0.0.1', port: 5672 } })
  }
  const statics = new StaticAccountService(store, keys)
  const tokens = new SecurityTokens(keyring, keys, () => NOW)
  const auth = new AmqpAuthenticator({
    accessKeys: keys,
    staticAccounts: statics,
    tokens,
    credentialWindowMs: WINDOW,
    isAmqpInstance: async (id) => (await store.get('instances', GLOBAL_SCOPE, id))?.protocol === 'amqp',
    now: () => NOW,
  })
  const { accessKeyId: ak, accessKeySecret: sk } = await keys.create()
  return { auth, keys, statics, tokens, ak, sk }
}

function dynamic(ak: string, sk: string, ts: number, instanceId = INSTANCE): { username: string; password: string } {
  const c = deriveCredentials({ instanceId, accessKeyId: ak, accessKeySecret: sk, ts: String(ts), kind: 'dynamic' })
  return { username: c.userName, password: c.password }
}

async function createStatic(f: Fixture, instanceId = INSTANCE): Promise<{ username: string; password: string }> {
  const answer = await f.statics.create(instanceId, {
    accountAccessKey: f.ak,
    userName: encodeUserName({ type: 2, instanceId, accessKeyId: f.ak }),
    createTimestamp: STATIC_TS,
    signature: signatureFor(f.sk, STATIC_TS),
    secretSign: secretSignFor(f.sk, STATIC_TS),
  })
  return { username: answer.userName, password: answer.password }
}

function refused(t: Test, result: AuthResult, reason: string, detail?: RegExp): void {
  t.equal(result.ok, false, 'refused')
  if (result.ok) return
  t.equal(result.reason, reason)
  if (detail !== undefined) t.match(result.detail, detail)
}

t.test('admits a dynamic login inside the window and says who it is', async (t) => {
  const f = await setup(t)
  for (const skew of [0, -WINDOW, WINDOW, -60_000]) {
    const creds = dynamic(f.ak, f.sk, NOW + skew)
    const r = await f.auth.authenticate(creds)
    t.same(r, { ok: true, subject: { instanceId: INSTANCE, accessKeyId: f.ak, kind: 'dynamic', username: creds.username } }, `skew ${skew} ms`)
  }
})

t.test('refuses a dynamic login outside the window as CREDENTIAL_EXPIRED', async (t) => {
  const f = await setup(t)
  refused(t, await f.auth.authenticate(dynamic(f.ak, f.sk, NOW - WINDOW - 1)), 'CREDENTIAL_EXPIRED', /old/)
  refused(t, await f.auth.authenticate(dynamic(f.ak, f.sk, NOW + WINDOW + 1)), 'CREDENTIAL_EXPIRED', /future/)
  refused(t, await f.auth.authenticate(dynamic(f.ak, 'wrong-secret', NOW - 2 * WINDOW)), 'BAD_CREDENTIALS', /signature/)
})

t.test('refuses wrong secrets, unknown keys and malformed credentials as BAD_CREDENTIALS', async (t) => {
  const f = await setup(t)
  const good = dynamic(f.ak, f.sk, NOW)
  const cases: Array<[string, { username: string; password: string }, RegExp]> = [
    ['wrong secret', dynamic(f.ak, 'not-the-secret', NOW), /signature does not match/],
    ['unknown AccessKey', dynamic('LTAIunknownunknownunkno', f.sk, NOW), /does not exist/],
    ['password of another timestamp', { username: good.username, password: Buffer.from(`${Buffer.from(good.password, 'base64').toString().split(':')[0]}:${NOW + 1}`).toString('base64') }, /signature/],
    ['userName not Base64', { username: 'guest', password: good.password }, /Base64/],
    ['password not Base64', { username: good.username, password: 'guest' }, /Base64/],
    ['tampered userName', { username: Buffer.from(`0:${INSTANCE}:${f.ak}x`).toString('base64'), password: good.password }, /does not exist/],
  ]
  for (const [name, creds, detail] of cases) {
    const r = await f.auth.authenticate(creds)
    t.test(name, async (t) => refused(t, r, 'BAD_CREDENTIALS', detail))
    if (!r.ok) t.notMatch(r.detail, f.sk, `${name}: the detail never holds the secret`)
  }
})

t.test('binds the userName to the connection\'s instance (SNI) and to known AMQP instances', async (t) => {
  const f = await setup(t)
  const creds = dynamic(f.ak, f.sk, NOW)
  t.ok((await f.auth.authenticate({ ...creds, instanceId: INSTANCE })).ok, 'same instance as SNI')
  refused(t, await f.auth.authenticate({ ...creds, instanceId: 'amqp-2' }), 'BAD_CREDENTIALS', /names instance amqp-1 but the connection is for instance amqp-2/)
  refused(t, await f.auth.authenticate(dynamic(f.ak, f.sk, NOW, 'nowhere')), 'UNKNOWN_INSTANCE')
})

t.test('refuses every kind of login with a disabled AccessKey, and admits again once enabled', async (t) => {
  const f = await setup(t)
  const stat = await createStatic(f)
  const { securityToken } = await f.tokens.issue(f.ak, 600)
  const sts = { username: encodeUserName({ type: 0, instanceId: INSTANCE, accessKeyId: f.ak, securityToken }), password: passwordFor(f.sk, String(NOW)) }
  await f.keys.setStatus(f.ak, 'Inactive')
  for (const creds of [dynamic(f.ak, f.sk, NOW), stat, sts]) {
    refused(t, await f.auth.authenticate(creds), 'ACCESS_KEY_INACTIVE', /disabled/)
  }
  await f.keys.setStatus(f.ak, 'Active')
  t.ok((await f.auth.authenticate(stat)).ok)
})

t.test('says a key is disabled only to a client that proved its secret: without it, BAD_CREDENTIALS as for an unknown key', async (t) => {
  const f = await setup(t)
  await f.keys.setStatus(f.ak, 'Inactive')
  const { securityToken } = await f.tokens.issue((await f.keys.create()).accessKeyId, 600)
  const guesses: Array<[string, { username: string; password: string }]> = [
    ['dynamic login with a guessed secret', dynamic(f.ak, 'guessed-secret', NOW)],
    ['dynamic login with a guessed secret, outside the window', dynamic(f.ak, 'guessed-secret', NOW - 2 * WINDOW)],
    ['static login with a guessed secret', { username: encodeUserName({ type: 2, instanceId: INSTANCE, accessKeyId: f.ak }), password: passwordFor('guessed-secret', STATIC_TS) }],
    ['STS login with a guessed secret', { username: encodeUserName({ type: 0, instanceId: INSTANCE, accessKeyId: f.ak, securityToken }), password: passwordFor('guessed-secret', String(NOW)) }],
  ]
  for (const [name, creds] of guesses) {
    const r = await f.auth.authenticate(creds)
    t.test(name, async (t) => refused(t, r, 'BAD_CREDENTIALS', /signature does not match/))
  }
  const unknown = await f.auth.authenticate(dynamic('LTAIunknownunknownunkno', 'guessed-secret', NOW))
  const disabled = await f.auth.authenticate(dynamic(f.ak, 'guessed-secret', NOW))
  t.equal(!disabled.ok && disabled.reason, !unknown.ok && unknown.reason, 'a disabled key and an unknown one look the same to a guesser')
  refused(t, await f.auth.authenticate(dynamic(f.ak, f.sk, NOW)), 'ACCESS_KEY_INACTIVE', /disabled/)
})

t.test('admits a static user with its createTimestamp password, whatever the time', async (t) => {
  const f = await setup(t)
  const creds = await createStatic(f)
  const r = await f.auth.authenticate({ ...creds, instanceId: INSTANCE })
  t.same(r, { ok: true, subject: { instanceId: INSTANCE, accessKeyId: f.ak, kind: 'static', username: creds.username, account: creds.username } })
})

t.test('refuses a static login without an account, with another timestamp, on another instance, or once deleted', async (t) => {
  const f = await setup(t)
  const staticUser = encodeUserName({ type: 2, instanceId: INSTANCE, accessKeyId: f.ak })
  refused(t, await f.auth.authenticate({ username: staticUser, password: passwordFor(f.sk, STATIC_TS) }), 'BAD_CREDENTIALS', /no static account/)
  const creds = await createStatic(f)
  refused(t, await f.auth.authenticate({ username: creds.username, password: passwordFor(f.sk, String(NOW)) }), 'BAD_CREDENTIALS', /createTimestamp/)
  const elsewhere = encodeUserName({ type: 2, instanceId: 'amqp-2', accessKeyId: f.ak })
  refused(t, await f.auth.authenticate({ username: elsewhere, password: creds.password }), 'BAD_CREDENTIALS', /no static account on instance amqp-2/)
  await f.statics.delete(INSTANCE, f.ak)
  refused(t, await f.auth.authenticate(creds), 'BAD_CREDENTIALS', /no static account/)
})

t.test('a static user stops working when its AccessKey is deleted', async (t) => {
  const f = await setup(t)
  const creds = await createStatic(f)
  t.ok((await f.auth.authenticate(creds)).ok)
  await f.keys.delete(f.ak)
  refused(t, await f.auth.authenticate(creds), 'BAD_CREDENTIALS', /does not exist/)
})

t.test('admits an STS login with a gateway token bound to the AccessKey, and refuses expired or foreign tokens', async (t) => {
  const f = await setup(t)
  const issued = await f.tokens.issue(f.ak, 600)
  const username = encodeUserName({ type: 0, instanceId: INSTANCE, accessKeyId: f.ak, securityToken: issued.securityToken })
  const password = passwordFor(f.sk, String(NOW))
  t.same(await f.auth.authenticate({ username, password }), {
    ok: true,
    subject: { instanceId: INSTANCE, accessKeyId: f.ak, kind: 'sts', username, expiresAt: issued.expiresAt, tokenId: issued.tokenId },
  })
  refused(t, await f.auth.authenticate({ username, password: passwordFor(f.sk, String(NOW + 601_000)), now: NOW + 601_000 }), 'CREDENTIAL_EXPIRED', /expired/)
  refused(t, await f.auth.authenticate({ username, password: passwordFor(f.sk, String(NOW - WINDOW - 1)) }), 'CREDENTIAL_EXPIRED', /old/)

  const other = await f.keys.create()
  const foreign = await f.tokens.issue(other.accessKeyId, 600)
  const stolen = encodeUserName({ type: 0, instanceId: INSTANCE, accessKeyId: f.ak, securityToken: foreign.securityToken })
  refused(t, await f.auth.authenticate({ username: stolen, password }), 'BAD_CREDENTIALS', /another AccessKey/)
  refused(t, await f.auth.authenticate({ username, password: passwordFor(other.accessKeySecret, String(NOW)) }), 'BAD_CREDENTIALS', /signature/)
})
