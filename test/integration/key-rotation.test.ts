/**
 * Master key rotation with real gateway processes (issue 13; DESIGN §4 "Operations and keys"):
 *
 * 1. Secrets made under a file key (AccessKeys, a static account, an AMQP instance's backend
 *    password for a RabbitMQ user of the test's own, the instance's server private key); the
 *    gateway restarted on a SoftHSM2 key with the file key as `previous`; `POST /v1/keys/rotate`;
 *    restarted with the file key deleted: AMQP logins through real TLS (the instance's own
 *    certificate) reach RabbitMQ, and Redis and the data directories hold no plaintext secret and
 *    no data key wrapped by the file key.
 * 2. A rotation SIGKILLed in the middle is resumed by the next start and finishes.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import Redis from 'ioredis'
import t from 'tap'
import { newKeyFileEntry } from '../../src/auth/master-key'
import { createCa, createLeaf, writeDevPki } from '../../src/ca/pki'
import { amqpFixture } from '../helpers/amqp-fixture'
import { unique, type TestGateway } from '../helpers/gateway'
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process'
import { addRabbitUser, rabbitmqctlAvailable } from '../helpers/rabbitmq-users'
import { deleteRedisKeys, serviceAvailable, type Test } from '../helpers/services'
import { createSoftHsmToken, softHsmAvailable, type SoftHsmToken } from '../helpers/softhsm'
import { valueWithin } from '../helpers/wait'

interface KeyStatus {
  currentKeyId: string
  keys: Array<{ keyId: string; loaded: boolean; current: boolean; secrets: number }>
  rotation: null | { state: string; total: number; done: number; failed: number; resumed: number; remaining?: number; targetKeyId: string }
}

function setup(t: Test): { dir: string; certsDir: string; fileKey: string; env: Record<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-keyrot-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const fileKey = join(dir, 'secrets', 'master-key.json')
  mkdirSync(join(dir, 'secrets'), { mode: 0o700 })
  writeFileSync(fileKey, JSON.stringify({ keys: [newKeyFileEntry('mk-file-2025')] }), { mode: 0o600 })
  const env = {
    PORTCULLIS_ROOT_ACCESS_KEY_ID: `LTAI${randomBytes(10).toString('hex')}`,
    PORTCULLIS_ROOT_ACCESS_KEY_SECRET: randomBytes(15).toString('hex'),
  }
  return { dir, certsDir: join(dir, 'certs'), fileKey, env }
}

function hsmKey(token: SoftHsmToken, previous: unknown[] = []): Record<string, unknown> {
  return { provider: 'pkcs11', module: token.module, tokenLabel: token.tokenLabel, pinEnv: 'TEST_TOKEN_PIN', keyLabel: 'mk-hsm-2026', previous }
}

async function keyStatus(g: GatewayProcess): Promise<KeyStatus> {
  const res = await g.admin<KeyStatus>('GET', '/v1/keys')
  if (res.status !== 200) throw new Error(`GET /v1/keys: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body
}

function secretsUnder(status: KeyStatus, keyId: string): number {
  return status.keys.find((k) => k.keyId === keyId)?.secrets ?? 0
}

/** Every value under the prefix, as text: strings, hashes, sets, lists, sorted sets and streams. */
async function redisDump(prefix: string): Promise<string> {
  const redis = new Redis('redis://127.0.0.1:6379')
  try {
    const out: string[] = []
    for (const key of await redis.keys(`${prefix}*`)) {
      const type = await redis.type(key)
      if (type === 'string') out.push(key, (await redis.get(key)) ?? '')
      else if (type === 'hash') out.push(key, JSON.stringify(await redis.hgetall(key)))
      else if (type === 'set') out.push(key, (await redis.smembers(key)).join('\n'))
      else if (type === 'list') out.push(key, (await redis.lrange(key, 0, -1)).join('\n'))
      else if (type === 'zset') out.push(key, (await redis.zrange(key, '0', '-1')).join('\n'))
      else if (type === 'stream') out.push(key, JSON.stringify(await redis.xrange(key, '-', '+')))
    }
    return out.join('\n')
  } finally {
    redis.disconnect()
  }
}

function filesUnder(dir: string): string {
  let text = ''
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    const info = statSync(path, { throwIfNoEntry: false })
    if (info?.isDirectory() === true) text += filesUnder(path)
    else if (info?.isFile() === true) text += readFileSync(path).toString('latin1')
  }
  return text
}

t.test('keys rotate moves every secret from a file key to a SoftHSM2 key; with the file key gone all of them still work', async (t) => {
  if (!(await serviceAvailable(t, 'redis', 6379)) || !(await serviceAvailable(t, 'rabbitmq', 5672))) return
  if (!(await softHsmAvailable(t)) || !(await rabbitmqctlAvailable(t))) return
  const { dir, certsDir, fileKey, env } = setup(t)
  await writeDevPki(certsDir)
  const token = await createSoftHsmToken(dir)
  await token.addAesKey('mk-hsm-2026')
  const prefix = `${unique('keyrot')}:`
  t.teardown(() => deleteRedisKeys(prefix))
  const backendUser = await addRabbitUser(t, unique('pc-backend'), randomBytes(12).toString('hex'))
  const processEnv = { ...env, ...token.env, TEST_TOKEN_PIN: token.pin }
  let current: GatewayProcess | undefined
  t.teardown(() => current?.stop())
  const start = async (name: string, masterKey: Record<string, unknown>): Promise<GatewayProcess> => {
    current = await startGatewayProcess({ name, dir, certsDir, redisPrefix: prefix, env: processEnv, config: { masterKey, keyRotation: { batchSize: 2 } } })
    return current
  }
  // The fixture follows whichever process runs now.
  const view = {
    admin: (method: string, path: string, body?: unknown) => (current as GatewayProcess).admin(method, path, body),
    get amqpPort() { return (current as GatewayProcess).ports.amqps },
    certsDir,
  } as unknown as TestGateway

  const a = await start('file-key', { provider: 'file', path: fileKey })
  const fx = await amqpFixture(view, { backend: { username: backendUser.username, password: backendUser.password } })
  const ownCa = await createCa({ commonName: `${fx.instanceId} server CA`, pathLength: 0 })
  const own = await createLeaf({ commonName: fx.hostname, issuer: ownCa, kind: 'server', dnsNames: [fx.hostname] })
  t.equal((await a.admin('PATCH', `/v1/instances/${fx.instanceId}`, { serverCertificate: { certificate: own.cert, privateKey: own.key } })).status, 200)
  const staticAccount = await fx.createStaticAccount()
  t.equal(staticAccount.status, 201, 'a static account is made (its password derives from the sealed AccessKey secret)')
  const second = await fx.createAccessKey()
  const before = await keyStatus(a)
  t.equal(before.currentKeyId, 'mk-file-2025')
  t.equal(secretsUnder(before, 'mk-file-2025'), 4, 'two AccessKeys, the backend password and the private key are sealed under the file key')
  await a.stop()

  const b = await start('both-keys', hsmKey(token, [{ provider: 'file', path: fileKey }]))
  const loaded = await keyStatus(b)
  t.equal(loaded.currentKeyId, 'mk-hsm-2026', 'the token key is current')
  t.same(loaded.keys.map((k) => [k.keyId, k.loaded, k.secrets]), [['mk-file-2025', true, 4], ['mk-hsm-2026', true, 0]])
  const login = await fx.connect(fx.dynamicCredentials(), { ca: ownCa.cert })
  await login.close()
  const started = await b.admin('POST', '/v1/keys/rotate', {})
  t.equal(started.status, 202, 'the rotation is started')
  t.equal(started.body.state, 'running')
  t.equal(started.body.targetKeyId, 'mk-hsm-2026')
  const done = await valueWithin(async () => {
    const s = await keyStatus(b)
    return s.rotation?.state === 'done' ? s : undefined
  }, 20_000, 'the rotation done')
  t.match(done.rotation, { state: 'done', total: 4, done: 4, failed: 0, remaining: 0 }, 'every data key re-wrapped, none failed')
  t.equal(secretsUnder(done, 'mk-file-2025'), 0, 'nothing is left under the file key')
  t.equal(secretsUnder(done, 'mk-hsm-2026'), 4)
  const again = await b.admin('POST', '/v1/keys/rotate', {})
  t.equal(again.status, 202, 'a second rotation is allowed once the first is done')
  await valueWithin(async () => (await keyStatus(b)).rotation?.state === 'done', 10_000, 'the second rotation done')
  t.match((await keyStatus(b)).rotation, { state: 'done', total: 0, done: 0 }, 'and finds nothing to do')
  await b.stop()
  const audit = readFileSync(join(dir, 'both-keys-audit.jsonl'), 'utf8')
  t.match(audit, /"type":"admin\.keys\.rotate"/, 'the request is audited')
  t.match(audit, /"type":"keys\.rotation\.completed"/, 'and so is its completion')

  rmSync(fileKey)
  const c = await start('token-only', hsmKey(token))
  const status = await keyStatus(c)
  t.same(status.keys.map((k) => [k.keyId, k.secrets]), [['mk-hsm-2026', 4]], 'the old key is gone and nothing needs it')
  for (const [what, creds] of [
    ['first AccessKey', fx.dynamicCredentials()],
    ['second AccessKey', fx.dynamicCredentials({ accessKeyId: second.accessKeyId, secret: second.accessKeySecret })],
    ['static account', { userName: staticAccount.body.userName as string, password: staticAccount.body.password as string }],
  ] as const) {
    const conn = await fx.connect(creds, { ca: ownCa.cert })
    const ch = await conn.createChannel()
    const queue = unique('keyrot-q')
    await ch.assertQueue(queue, { autoDelete: false, durable: false })
    ch.sendToQueue(queue, Buffer.from(what))
    const got = await valueWithin(() => ch.get(queue, { noAck: true }), 5000, `${what}'s message`)
    t.equal(got.content.toString(), what, `${what}: logs in through the gateway (backend password opened) and round-trips a message`)
    await ch.deleteQueue(queue)
    await conn.close()
  }
  const presented = await new Promise<string>((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: c.ports.amqps, servername: fx.hostname, ca: [ownCa.cert] }, () => {
      resolve(socket.getPeerCertificate().fingerprint256)
      socket.destroy()
    })
    socket.once('error', reject)
  })
  t.ok(presented.length > 0, 'the instance certificate (private key opened by the token key) completes a verified handshake')
  await c.stop()
  current = undefined

  const stored = `${await redisDump(prefix)}\n${filesUnder(dir)}`
  t.ok(stored.includes(fx.accessKeyId) && stored.includes(fx.instanceId), 'the scan sees the records (ids are not secret)')
  const keyBody = own.key.split('\n').filter((l) => l !== '' && !l.startsWith('-----')).join('')
  for (const [what, secret] of [
    ['an AccessKey secret', fx.accessKeySecret],
    ['the second AccessKey secret', second.accessKeySecret],
    ['the backend password', backendUser.password],
    ['the static password', staticAccount.body.password as string],
    ['the server private key', keyBody.slice(0, 64)],
  ] as const) {
    t.notOk(stored.includes(secret), `${what} appears nowhere in Redis, the data directories or the audit files`)
  }
  t.notOk(/"keyId":"mk-file-2025"/.test(await redisDump(prefix)), 'no data key in Redis is wrapped by the removed file key')
})

t.test('a rotation SIGKILLed half-way is resumed by the next start and finishes', async (t) => {
  if (!(await serviceAvailable(t, 'redis', 6379)) || !(await softHsmAvailable(t))) return
  const { dir, certsDir, fileKey, env } = setup(t)
  await writeDevPki(certsDir)
  const token = await createSoftHsmToken(dir, 'crash-test')
  await token.addAesKey('mk-hsm-2026')
  const processEnv = { ...env, ...token.env, TEST_TOKEN_PIN: token.pin }
  const dataDir = join(dir, 'data')
  let current: GatewayProcess | undefined
  t.teardown(() => current?.stop())
  const start = async (name: string, masterKey: Record<string, unknown>): Promise<GatewayProcess> => {
    current = await startGatewayProcess({
      name, dir, certsDir, redisPrefix: 'unused:', env: processEnv,
      config: { store: { kind: 'embedded', dataDir }, masterKey, keyRotation: { batchSize: 3, pauseMs: 150 } },
    })
    return current
  }
  const KEYS = 40
  const a = await start('file-key', { provider: 'file', path: fileKey })
  for (let i = 0; i < KEYS; i++) t.equal((await a.admin('POST', '/v1/access-keys', { description: `k${i}` })).status, 201, `AccessKey ${i} made`, { diagnostic: false })
  await a.stop()

  const both = hsmKey(token, [{ provider: 'file', path: fileKey }])
  const b = await start('interrupted', both)
  t.equal((await b.admin('POST', '/v1/keys/rotate', {})).status, 202)
  const midway = await valueWithin(async () => {
    const s = await keyStatus(b)
    return s.rotation !== null && s.rotation.done >= 6 ? s : undefined
  }, 20_000, 'six secrets re-wrapped')
  b.child.kill('SIGKILL')
  await new Promise((resolve) => b.child.once('exit', resolve))
  const progress = midway.rotation as NonNullable<KeyStatus['rotation']>
  t.ok(progress.done > 0 && progress.done < KEYS, `killed in the middle (${progress.done}/${progress.total} re-wrapped)`)
  t.equal(progress.state, 'running')

  const c = await start('resumed', both)
  const finished = await valueWithin(async () => {
    const s = await keyStatus(c)
    return s.rotation?.state === 'done' ? s : undefined
  }, 30_000, 'the resumed rotation done')
  t.match(finished.rotation, { state: 'done', total: KEYS, done: KEYS, failed: 0, remaining: 0, resumed: 1 }, 'the next start carried on to the end, counting what was done before')
  t.equal(secretsUnder(finished, 'mk-file-2025'), 0)
  t.equal(secretsUnder(finished, 'mk-hsm-2026'), KEYS)
  await c.stop()
  current = undefined
  const audit = readFileSync(join(dir, 'resumed-audit.jsonl'), 'utf8')
  t.match(audit, /"type":"keys\.rotation\.resumed"/, 'the resumption is audited')
  t.match(audit, /"type":"keys\.rotation\.completed"/)

  rmSync(fileKey)
  const d = await start('token-only', hsmKey(token))
  t.equal(secretsUnder(await keyStatus(d), 'mk-hsm-2026'), KEYS, 'starts on the token key alone')
  await d.stop()
  current = undefined
  t.notOk(filesUnder(dataDir).includes('"keyId":"mk-file-2025"'), 'the data directory holds no data key wrapped by the old key')
})

t.test('a start whose stored secrets need a key that is not loaded is refused, naming the key', async (t) => {
  if (!(await serviceAvailable(t, 'redis', 6379)) || !(await softHsmAvailable(t))) return
  const { dir, certsDir, fileKey, env } = setup(t)
  await writeDevPki(certsDir)
  const token = await createSoftHsmToken(dir, 'refusal-test')
  await token.addAesKey('mk-hsm-2026')
  const dataDir = join(dir, 'data')
  const config = (masterKey: Record<string, unknown>): Record<string, unknown> => ({ store: { kind: 'embedded', dataDir }, masterKey })
  const processEnv = { ...env, ...token.env, TEST_TOKEN_PIN: token.pin }
  const a = await startGatewayProcess({ name: 'a', dir, certsDir, redisPrefix: 'unused:', env: processEnv, config: config({ provider: 'file', path: fileKey }) })
  t.equal((await a.admin('POST', '/v1/access-keys', {})).status, 201)
  await a.stop()
  await t.rejects(
    startGatewayProcess({ name: 'b', dir, certsDir, redisPrefix: 'unused:', env: processEnv, config: config(hsmKey(token)) }),
    /sealed under master key\(s\) that are not loaded: mk-file-2025 \(1 secret\)/,
    'the file key was removed before a rotation: the start is refused with what to do',
  )
  await t.rejects(
    startGatewayProcess({ name: 'c', dir, certsDir, redisPrefix: 'unused:', env: { ...processEnv, TEST_TOKEN_PIN: '000000' }, config: config(hsmKey(token, [{ provider: 'file', path: fileKey }])) }),
    /cannot log in to token "refusal-test": CKR_PIN_INCORRECT/,
    'a token that refuses the PIN stops the start (no key is generated instead)',
  )
})
