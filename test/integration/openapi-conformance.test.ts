import t from 'tap'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pino from 'pino'
import { stringify } from 'yaml'
import { signRequest } from '../../src/admin/signing'
import { encodeUserName, secretSignFor, signatureFor } from '../../src/auth/credentials'
import { createCa, createLeaf, createVerificationCertificate } from '../../src/ca/pki'
import { loadConfig } from '../../src/config/load'
import { startGateway } from '../../src/gateway'
import type { TestGateway } from '../helpers/gateway'
import { closed, fixtureFor } from '../helpers/mqtt-fixture'
import { operations, ResponseChecker, type OpenApiDocument } from '../helpers/openapi-check'

/**
 * Every operation of /openapi.json driven through a running gateway (listeners, admin API on
 * port 0, embedded store and MQTT broker, started from a config file so that the reload route
 * works) with real signed HTTP requests: success and the main error cases of each route, every
 * real answer (status, media type, body) validated against the document with ajv. An answer the
 * document does not allow fails the test, and so does an operation never driven to success or
 * to an error (DESIGN §4 "Operator interfaces"). Needs no outside service.
 */
type Key = { accessKeyId: string; accessKeySecret: string }
interface Answer {
  status: number
  headers: Headers
  text: string
  body: any
}
interface SendOptions {
  body?: unknown
  /** Bytes sent as they are (with `contentType`), signed as such. */
  raw?: string
  contentType?: string
  key?: Key
  /** How the request is signed: not at all, with a wrong secret, with a date 20 minutes old, or with this nonce. */
  sign?: 'none' | 'wrong-secret' | 'stale-date' | { nonce: string }
  /** Sign this URL instead of the one sent (a query the signer itself would refuse). */
  signedUrl?: string
  accept?: string
}

t.test('every operation answers what /openapi.json documents, on a running gateway', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-openapi-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const configFile = join(dir, 'portcullis.yaml')
  const configText = stringify({
    listeners: [
      { name: 'mqtts', protocol: 'mqtt', host: '127.0.0.1', port: 0 },
      { name: 'amqps', protocol: 'amqp', host: '127.0.0.1', port: 0 },
    ],
    admin: { host: '127.0.0.1', port: 0 },
    store: { kind: 'embedded', dataDir: join(dir, 'data') },
    audit: { sinks: [{ kind: 'file', path: join(dir, 'audit.jsonl') }] },
    tls: { devCertsDir: join(dir, 'certs') },
    limits: { maxAdminBodyBytes: 64 * 1024 },
    log: { level: 'silent' },
  })
  writeFileSync(configFile, configText)
  const gateway = await startGateway(loadConfig({ file: configFile, env: {} }), {
    secrets: { requireServices: false },
    logger: pino({ level: 'silent' }),
    reloadFrom: { file: configFile, env: {} },
  })
  t.teardown(() => gateway.stop())
  const root: Key = { accessKeyId: gateway.rootAccessKey.accessKeyId, accessKeySecret: gateway.rootAccessKey.accessKeySecret }

  const specRes = await fetch(`${gateway.adminUrl}/openapi.json`)
  const doc = (await specRes.json()) as OpenApiDocument
  const checker = new ResponseChecker(doc)

  /** One request, checked against the document; the answer for the test's own assertions. */
  async function send(method: string, path: string, o: SendOptions = {}): Promise<Answer> {
    const payload = o.raw ?? (o.body === undefined ? '' : JSON.stringify(o.body))
    const key = o.key ?? root
    const headers: Record<string, string> = {}
    if (o.sign !== 'none') {
      const secret = o.sign === 'wrong-secret' ? `${key.accessKeySecret}x` : key.accessKeySecret
      Object.assign(headers, signRequest({
        method, url: o.signedUrl ?? path, body: payload, accessKeyId: key.accessKeyId, accessKeySecret: secret,
        ...(o.sign === 'stale-date' ? { now: new Date(Date.now() - 20 * 60_000) } : {}),
        ...(typeof o.sign === 'object' ? { nonce: o.sign.nonce } : {}),
      }))
    }
    if (payload !== '') headers['content-type'] = o.contentType ?? 'application/json'
    if (o.accept !== undefined) headers.accept = o.accept
    const res = await fetch(gateway.adminUrl + path, { method, headers, ...(payload !== '' ? { body: payload } : {}) })
    const text = await res.text()
    const contentType = res.headers.get('content-type') ?? undefined
    const problems = checker.check({ method, path: path.split('?')[0] ?? path, status: res.status, contentType, text })
    t.same(problems, [], `${method} ${path} → ${res.status}: allowed by the document`)
    let body: any = text
    if ((contentType ?? '').startsWith('application/json') && text !== '') body = JSON.parse(text)
    if (typeof body === 'object' && body !== null && 'requestId' in body) t.equal(body.requestId, res.headers.get('x-request-id'), `${method} ${path}: requestId is the x-request-id`)
    return { status: res.status, headers: res.headers, text, body }
  }
  /** `send`, asserting the status (and, for an error, the code). */
  async function expect(status: number, method: string, path: string, o: SendOptions & { code?: string } = {}): Promise<Answer> {
    const answer = await send(method, path, o)
    t.equal(answer.status, status, `${method} ${path}: ${status}${o.code !== undefined ? ` ${o.code}` : ''} (${answer.text.slice(0, 160)})`)
    if (o.code !== undefined) t.equal(answer.body?.code, o.code, `${method} ${path}: code ${o.code}`)
    return answer
  }

  // The reference itself and the probes.
  t.same(checker.check({ method: 'GET', path: '/openapi.json', status: specRes.status, contentType: specRes.headers.get('content-type') ?? undefined, text: JSON.stringify(doc) }), [])
  t.match((await expect(200, 'GET', '/')).body, { links: { docs: '/docs', console: '/console/' } })
  t.match((await expect(200, 'GET', '/', { accept: 'text/html' })).text, /<a href="\/docs">/)
  await expect(200, 'GET', '/healthz')
  await expect(200, 'GET', '/readyz')
  t.match((await expect(200, 'GET', '/metrics')).text, /portcullis_/)

  // Signing and authorization, on every signed operation: unsigned → 401, a key without grants → 403.
  const viewer = await expect(201, 'POST', '/v1/accounts', { body: { id: 'viewer', displayName: 'no grants' } })
  t.equal(viewer.body.id, 'viewer')
  const viewerKey = (await expect(201, 'POST', '/v1/access-keys', { body: { accountId: 'viewer', description: 'for the 403s' } })).body as Key
  for (const { method, path } of operations(doc).filter((o) => o.path.startsWith('/v1/'))) {
    const concrete = path.replace(/\{[^}]+\}/g, 'x')
    await expect(401, method, concrete, { sign: 'none', code: 'SIGNATURE_MISSING' })
    await expect(403, method, concrete, { key: viewerKey, code: 'ACCESS_DENIED' })
  }
  await expect(401, 'GET', '/v1/instances', { sign: 'wrong-secret', code: 'SIGNATURE_INVALID' })
  await expect(401, 'GET', '/v1/instances', { sign: 'stale-date', code: 'SIGNATURE_EXPIRED' })
  await expect(200, 'GET', '/v1/instances', { sign: { nonce: 'conformance-nonce-1' } })
  await expect(401, 'GET', '/v1/instances', { sign: { nonce: 'conformance-nonce-1' }, code: 'NONCE_REUSED' })
  await expect(400, 'GET', '/v1/instances?limit=%ZZ', { signedUrl: '/v1/instances?limit=1', code: 'VALIDATION_FAILED' })
  await expect(400, 'POST', '/v1/instances', { raw: '{"id": ', code: 'VALIDATION_FAILED' })
  await expect(400, 'POST', '/v1/instances', { raw: 'id=x', contentType: 'text/plain', code: 'VALIDATION_FAILED' })
  await expect(413, 'POST', '/v1/instances', { body: { id: 'big', protocol: 'mqtt', vpcId: 'v'.repeat(70_000) }, code: 'BODY_TOO_LARGE' })

  // Instances.
  const certsDir = join(dir, 'certs')
  const serverCertificate = { certificate: readFileSync(join(certsDir, 'server.pem'), 'utf8'), privateKey: readFileSync(join(certsDir, 'server.key'), 'utf8') }
  const mqttId = 'plant-1'
  const hostname = 'plant-1.portcullis.local'
  const made = await expect(201, 'POST', '/v1/instances', { body: { id: mqttId, protocol: 'mqtt', hostnames: [hostname], backend: { kind: 'embedded' } } })
  t.equal(made.body.backend.passwordSet, false)
  await expect(409, 'POST', '/v1/instances', { body: { id: mqttId, protocol: 'mqtt' }, code: 'ALREADY_EXISTS' })
  await expect(400, 'POST', '/v1/instances', { body: { id: 'bad id', protocol: 'mqtt' }, code: 'VALIDATION_FAILED' })
  await expect(422, 'POST', '/v1/instances', { body: { id: 'c', protocol: 'mqtt', serverCertificate: { certificate: 'not a pem', privateKey: 'x' } }, code: 'CERT_INVALID' })
  const amqpId = 'mq-1'
  t.equal((await expect(201, 'POST', '/v1/instances', { body: { id: amqpId, protocol: 'amqp', hostnames: ['mq-1.portcullis.local'], backend: { kind: 'tcp', host: '127.0.0.1', port: 5672, username: 'guest', password: 'guest' } } })).body.backend.passwordSet, true)
  const firstPage = await expect(200, 'GET', '/v1/instances?limit=1')
  t.equal(firstPage.body.items.length, 1)
  t.type(firstPage.body.nextToken, 'string')
  await expect(200, 'GET', `/v1/instances?limit=1&nextToken=${firstPage.body.nextToken as string}`)
  await expect(200, 'GET', `/v1/instances/${mqttId}`)
  await expect(404, 'GET', '/v1/instances/nope', { code: 'NOT_FOUND' })
  const patched = await expect(200, 'PATCH', `/v1/instances/${mqttId}`, { body: { serverCertificate } })
  t.same(patched.body.serverCertificate?.privateKeySet, true, 'the private key is answered as a flag')
  await expect(422, 'PATCH', `/v1/instances/${mqttId}`, { body: { serverCertificate: { certificate: 'x', privateKey: 'y' } }, code: 'CERT_INVALID' })
  await expect(404, 'PATCH', '/v1/instances/nope', { body: { hostnames: [] }, code: 'NOT_FOUND' })
  const generated = await expect(200, 'POST', `/v1/instances/${amqpId}/backend-password`, { body: {} })
  t.match(generated.body, { instanceId: amqpId, generated: true, password: /^[A-Za-z0-9]{32}$/ })
  await expect(200, 'POST', `/v1/instances/${amqpId}/backend-password`, { body: { password: 'guest' } })
  await expect(400, 'POST', `/v1/instances/${mqttId}/backend-password`, { body: {}, code: 'VALIDATION_FAILED' })
  await expect(404, 'POST', '/v1/instances/nope/backend-password', { body: {}, code: 'NOT_FOUND' })

  // CA certificates: registration code, proof of possession, state.
  const ca = await createCa({ commonName: 'Plant CA' })
  const code = await expect(200, 'POST', `/v1/instances/${mqttId}/registration-code`)
  await expect(404, 'POST', '/v1/instances/nope/registration-code', { code: 'NOT_FOUND' })
  const wrongCode = await createVerificationCertificate({ registrationCode: 'not-the-code', ca })
  await expect(422, 'POST', `/v1/instances/${mqttId}/cas`, { body: { caCertificate: ca.cert, verificationCertificate: wrongCode.cert }, code: 'REGISTRATION_CODE_INVALID' })
  const leafAsCa = await createLeaf({ commonName: 'not a CA', issuer: ca, kind: 'client' })
  await expect(422, 'POST', `/v1/instances/${mqttId}/cas`, { body: { caCertificate: leafAsCa.cert, verificationCertificate: wrongCode.cert }, code: 'CA_NOT_A_CA' })
  await expect(422, 'POST', `/v1/instances/${mqttId}/cas`, { body: { caCertificate: 'garbage', verificationCertificate: 'garbage' }, code: 'CERT_INVALID' })
  const verification = await createVerificationCertificate({ registrationCode: code.body.registrationCode, ca })
  const registered = await expect(201, 'POST', `/v1/instances/${mqttId}/cas`, { body: { caCertificate: ca.cert, verificationCertificate: verification.cert } })
  const caId = registered.body.id as string
  await expect(422, 'POST', `/v1/instances/${mqttId}/cas`, { body: { caCertificate: ca.cert, verificationCertificate: verification.cert }, code: 'REGISTRATION_CODE_MISSING' })
  const again = await expect(200, 'POST', `/v1/instances/${mqttId}/registration-code`)
  const verificationAgain = await createVerificationCertificate({ registrationCode: again.body.registrationCode, ca })
  await expect(409, 'POST', `/v1/instances/${mqttId}/cas`, { body: { caCertificate: ca.cert, verificationCertificate: verificationAgain.cert }, code: 'CA_DUPLICATE' })
  await expect(404, 'POST', '/v1/instances/nope/cas', { body: { caCertificate: ca.cert, verificationCertificate: verification.cert }, code: 'NOT_FOUND' })
  t.equal((await expect(200, 'GET', `/v1/instances/${mqttId}/cas`)).body.items.length, 1)
  await expect(404, 'GET', '/v1/instances/nope/cas', { code: 'NOT_FOUND' })
  await expect(200, 'GET', `/v1/instances/${mqttId}/cas/${caId}`)
  await expect(404, 'GET', `/v1/instances/${mqttId}/cas/${'0'.repeat(64)}`, { code: 'NOT_FOUND' })
  t.equal((await expect(200, 'POST', `/v1/instances/${mqttId}/cas/${caId}/deactivate`)).body.status, 'INACTIVE')
  t.equal((await expect(200, 'POST', `/v1/instances/${mqttId}/cas/${caId}/activate`)).body.status, 'ACTIVE')
  await expect(404, 'POST', `/v1/instances/${mqttId}/cas/${'0'.repeat(64)}/activate`, { code: 'NOT_FOUND' })
  await expect(404, 'POST', `/v1/instances/${mqttId}/cas/${'0'.repeat(64)}/deactivate`, { code: 'NOT_FOUND' })

  // A device connects (auto-registered), is listed as a live session and kicked.
  const tg = { admin: async (method: string, path: string, body?: unknown) => send(method, path, body === undefined ? {} : { body }), mqttPort: gateway.listenerAddress('mqtts').port, certsDir } as unknown as TestGateway
  const fx = fixtureFor(tg, { instanceId: mqttId, hostname, ca })
  const device = await fx.device('sensor-1')
  const client = await fx.connect(device)
  const sessions = await expect(200, 'GET', `/v1/connections?instanceId=${mqttId}`)
  t.equal(sessions.body.items.length, 1, 'the live session is listed')
  const connId = sessions.body.items[0].connId as string
  await expect(200, 'GET', '/v1/connections')
  await expect(204, 'DELETE', `/v1/connections/${connId}`)
  await closed(client)
  await expect(404, 'DELETE', `/v1/connections/${connId}`, { code: 'NOT_FOUND' })

  // Device certificates.
  const devices = await expect(200, 'GET', `/v1/instances/${mqttId}/devices?status=ACTIVE`)
  t.equal(devices.body.items.length, 1, 'registered on its first connection')
  const deviceId = devices.body.items[0].id as string
  await expect(404, 'GET', '/v1/instances/nope/devices', { code: 'NOT_FOUND' })
  await expect(200, 'GET', `/v1/instances/${mqttId}/devices/${deviceId}`)
  const pem = await expect(200, 'GET', `/v1/instances/${mqttId}/devices/${deviceId}?format=pem`)
  t.match(pem.headers.get('content-type'), /^application\/x-pem-file/)
  await expect(404, 'GET', `/v1/instances/${mqttId}/devices/${'0'.repeat(64)}`, { code: 'NOT_FOUND' })
  const manual = await fx.device('sensor-2')
  t.equal((await expect(201, 'POST', `/v1/instances/${mqttId}/devices`, { body: { certificate: manual.cert, status: 'INACTIVE' } })).body.registeredBy, 'manual')
  await expect(409, 'POST', `/v1/instances/${mqttId}/devices`, { body: { certificate: manual.cert }, code: 'ALREADY_EXISTS' })
  const stranger = await createLeaf({ commonName: 'stranger', issuer: await createCa({ commonName: 'Other CA' }), kind: 'client' })
  await expect(422, 'POST', `/v1/instances/${mqttId}/devices`, { body: { certificate: stranger.cert }, code: 'DEVICE_NOT_UNDER_CA' })
  await expect(422, 'POST', `/v1/instances/${mqttId}/devices`, { body: { certificate: 'garbage' }, code: 'CERT_INVALID' })
  await expect(404, 'POST', '/v1/instances/nope/devices', { body: { certificate: manual.cert }, code: 'NOT_FOUND' })

  // explain, while the device is ACTIVE: admitted.
  const explained = await expect(200, 'POST', '/v1/explain', { body: { instanceId: mqttId, certificate: device.cert, clientId: 'sensor-1' } })
  t.equal(explained.body.admitted, true, explained.text)
  await expect(200, 'POST', '/v1/explain', { body: { instanceId: 'nope', certificate: device.cert } })
  await expect(422, 'POST', '/v1/explain', { body: { instanceId: mqttId, certificate: 'garbage' }, code: 'CERT_INVALID' })
  await expect(400, 'POST', '/v1/explain', { body: { instanceId: mqttId }, code: 'VALIDATION_FAILED' })

  t.equal((await expect(200, 'POST', `/v1/instances/${mqttId}/devices/${deviceId}/deactivate`)).body.status, 'INACTIVE')
  t.equal((await expect(200, 'POST', `/v1/instances/${mqttId}/devices/${deviceId}/activate`)).body.status, 'ACTIVE')
  await expect(409, 'DELETE', `/v1/instances/${mqttId}/cas/${caId}`, { code: 'CA_HAS_ACTIVE_DEVICES' })
  t.equal((await expect(200, 'POST', `/v1/instances/${mqttId}/devices/${deviceId}/revoke`)).body.status, 'REVOKED')
  await expect(409, 'POST', `/v1/instances/${mqttId}/devices/${deviceId}/activate`, { code: 'DEVICE_REVOKED' })
  await expect(409, 'POST', `/v1/instances/${mqttId}/devices/${deviceId}/deactivate`, { code: 'DEVICE_REVOKED' })
  for (const verb of ['activate', 'deactivate', 'revoke']) await expect(404, 'POST', `/v1/instances/${mqttId}/devices/${'0'.repeat(64)}/${verb}`, { code: 'NOT_FOUND' })

  // AccessKeys and security tokens.
  const key = (await expect(201, 'POST', '/v1/access-keys', { body: { description: 'client' } })).body as Key & { accountId: string }
  t.type(key.accessKeySecret, 'string')
  await expect(201, 'POST', '/v1/access-keys')
  await expect(404, 'POST', '/v1/access-keys', { body: { accountId: 'nobody' }, code: 'NOT_FOUND' })
  await expect(200, 'GET', '/v1/access-keys')
  t.notOk('accessKeySecret' in (await expect(200, 'GET', `/v1/access-keys/${key.accessKeyId}`)).body, 'no secret after the create')
  await expect(404, 'GET', '/v1/access-keys/LTAInope', { code: 'NOT_FOUND' })
  await expect(200, 'PATCH', `/v1/access-keys/${key.accessKeyId}`, { body: { status: 'Inactive' } })
  await expect(403, 'POST', `/v1/access-keys/${key.accessKeyId}/security-tokens`, { body: { ttlSeconds: 600 }, code: 'ACCESS_KEY_INACTIVE' })
  await expect(400, 'PATCH', `/v1/access-keys/${key.accessKeyId}`, { body: { status: 'Sleeping' }, code: 'VALIDATION_FAILED' })
  await expect(404, 'PATCH', '/v1/access-keys/LTAInope', { body: { status: 'Active' }, code: 'NOT_FOUND' })
  await expect(200, 'PATCH', `/v1/access-keys/${key.accessKeyId}`, { body: { status: 'Active' } })
  await expect(200, 'POST', `/v1/access-keys/${key.accessKeyId}/security-tokens`, { body: { ttlSeconds: 600 } })
  await expect(200, 'POST', `/v1/access-keys/${key.accessKeyId}/security-tokens`)
  await expect(400, 'POST', `/v1/access-keys/${key.accessKeyId}/security-tokens`, { body: { ttlSeconds: 5 }, code: 'VALIDATION_FAILED' })
  await expect(404, 'POST', '/v1/access-keys/LTAInope/security-tokens', { body: {}, code: 'NOT_FOUND' })

  // Static accounts (CreateAccount).
  const ts = String(Date.now())
  const createAccount = (instanceId: string, k: Key) => ({
    instanceId, accountAccessKey: k.accessKeyId, userName: encodeUserName({ type: 2, instanceId, accessKeyId: k.accessKeyId }),
    createTimestamp: ts, signature: signatureFor(k.accessKeySecret, ts), secretSign: secretSignFor(k.accessKeySecret, ts),
  })
  const staticAccount = await expect(201, 'POST', `/v1/instances/${amqpId}/static-accounts`, { body: createAccount(amqpId, key) })
  t.equal(staticAccount.headers.get('cache-control'), 'no-store')
  await expect(409, 'POST', `/v1/instances/${amqpId}/static-accounts`, { body: createAccount(amqpId, key), code: 'STATIC_ACCOUNT_EXISTS' })
  await expect(400, 'POST', `/v1/instances/${mqttId}/static-accounts`, { body: createAccount(mqttId, key), code: 'VALIDATION_FAILED' })
  await expect(404, 'POST', '/v1/instances/nope/static-accounts', { body: createAccount('nope', key), code: 'NOT_FOUND' })
  const other = (await expect(201, 'POST', '/v1/access-keys')).body as Key
  await expect(200, 'PATCH', `/v1/access-keys/${other.accessKeyId}`, { body: { status: 'Inactive' } })
  await expect(403, 'POST', `/v1/instances/${amqpId}/static-accounts`, { body: createAccount(amqpId, other), code: 'ACCESS_KEY_INACTIVE' })
  t.equal((await expect(200, 'GET', `/v1/instances/${amqpId}/static-accounts`)).body.items.length, 1)
  await expect(404, 'GET', '/v1/instances/nope/static-accounts', { code: 'NOT_FOUND' })
  await expect(204, 'DELETE', `/v1/instances/${amqpId}/static-accounts/${key.accessKeyId}`)
  await expect(404, 'DELETE', `/v1/instances/${amqpId}/static-accounts/${key.accessKeyId}`, { code: 'NOT_FOUND' })

  // Blacklist.
  const entry = await expect(201, 'POST', '/v1/blacklist', { body: { kind: 'clientId', value: 'bad-client', instanceId: mqttId, reason: 'test', expiresAt: new Date(Date.now() + 3_600_000).toISOString() } })
  await expect(409, 'POST', '/v1/blacklist', { body: { kind: 'clientId', value: 'bad-client', instanceId: mqttId }, code: 'ALREADY_EXISTS' })
  await expect(404, 'POST', '/v1/blacklist', { body: { kind: 'clientId', value: 'x', instanceId: 'nope' }, code: 'NOT_FOUND' })
  await expect(400, 'POST', '/v1/blacklist', { body: { kind: 'ip', value: '10.0.0.300' }, code: 'VALIDATION_FAILED' })
  await expect(200, 'GET', '/v1/blacklist?includeExpired=true')
  await expect(200, 'GET', `/v1/blacklist/${entry.body.id as string}`)
  await expect(404, 'GET', '/v1/blacklist/bl-nope', { code: 'NOT_FOUND' })
  await expect(204, 'DELETE', `/v1/blacklist/${entry.body.id as string}`)
  await expect(404, 'DELETE', `/v1/blacklist/${entry.body.id as string}`, { code: 'NOT_FOUND' })

  // Accounts and policies.
  await expect(201, 'POST', '/v1/accounts', { body: { id: 'ops' } })
  await expect(201, 'POST', '/v1/accounts', { body: { id: 'ops-eu', parentId: 'ops' } })
  await expect(409, 'POST', '/v1/accounts', { body: { id: 'ops' }, code: 'ALREADY_EXISTS' })
  await expect(404, 'POST', '/v1/accounts', { body: { id: 'orphan', parentId: 'nobody' }, code: 'NOT_FOUND' })
  await expect(400, 'POST', '/v1/accounts', { body: { id: '' }, code: 'VALIDATION_FAILED' })
  await expect(200, 'GET', '/v1/accounts')
  await expect(200, 'GET', '/v1/accounts/root')
  await expect(404, 'GET', '/v1/accounts/nobody', { code: 'NOT_FOUND' })
  await expect(409, 'DELETE', '/v1/accounts/ops', { code: 'ACCOUNT_IN_USE' })
  await expect(400, 'DELETE', '/v1/accounts/root', { code: 'VALIDATION_FAILED' })
  await expect(204, 'DELETE', '/v1/accounts/ops-eu')
  await expect(404, 'DELETE', '/v1/accounts/ops-eu', { code: 'NOT_FOUND' })
  const statements = [{ effect: 'Allow', actions: ['admin:List*', 'mqtt:Publish'], resources: ['admin:*', 'mqtt:plant-1:topic/sensors/${clientId}/#'] }]
  t.equal((await expect(201, 'PUT', '/v1/policies/readers', { body: { statements } })).body.version, 1)
  t.equal((await expect(200, 'PUT', '/v1/policies/readers', { body: { statements } })).body.version, 2)
  await expect(400, 'PUT', '/v1/policies/readers', { body: { statements: [{ effect: 'Maybe', actions: ['x'], resources: ['y'] }] }, code: 'VALIDATION_FAILED' })
  await expect(200, 'GET', '/v1/policies')
  await expect(200, 'GET', '/v1/policies/readers')
  await expect(404, 'GET', '/v1/policies/nope', { code: 'NOT_FOUND' })
  await expect(201, 'POST', '/v1/policies/readers/attachments', { body: { principal: 'account:viewer' } })
  await expect(200, 'POST', '/v1/policies/readers/attachments', { body: { principal: 'account:viewer' } })
  await expect(201, 'POST', '/v1/policies/readers/attachments', { body: { principal: `ca:${mqttId}/${caId}` } })
  await expect(404, 'POST', '/v1/policies/readers/attachments', { body: { principal: 'account:nobody' }, code: 'NOT_FOUND' })
  await expect(400, 'POST', '/v1/policies/readers/attachments', { body: { principal: 'user:alice' }, code: 'VALIDATION_FAILED' })
  await expect(404, 'POST', '/v1/policies/nope/attachments', { body: { principal: 'account:viewer' }, code: 'NOT_FOUND' })
  t.equal((await expect(200, 'GET', '/v1/policies/readers/attachments')).body.items.length, 2)
  await expect(404, 'GET', '/v1/policies/nope/attachments', { code: 'NOT_FOUND' })
  t.equal((await expect(200, 'GET', '/v1/instances', { key: viewerKey })).status, 200, 'the grant applies at once')
  await expect(409, 'DELETE', '/v1/policies/readers', { code: 'POLICY_ATTACHED' })
  await expect(204, 'DELETE', `/v1/policies/readers/attachments/${encodeURIComponent(`ca:${mqttId}/${caId}`)}`)
  await expect(204, 'DELETE', '/v1/policies/readers/attachments/account%3Aviewer')
  await expect(404, 'DELETE', '/v1/policies/readers/attachments/account%3Aviewer', { code: 'NOT_FOUND' })
  await expect(204, 'DELETE', '/v1/policies/readers')
  await expect(404, 'DELETE', '/v1/policies/readers', { code: 'NOT_FOUND' })

  // The audit log: query and the live stream (server-sent events).
  const audit = await expect(200, 'GET', '/v1/audit?type=admin.instance.create&limit=5')
  t.ok(audit.body.items.length >= 2, 'the creates above are audited')
  await expect(400, 'GET', '/v1/audit?since=yesterday', { code: 'VALIDATION_FAILED' })
  const stream = await openStream(`/v1/audit/stream?type=admin.instance.update&since=${encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString())}`)
  t.equal(stream.status, 200)
  t.same(checker.check({ method: 'GET', path: '/v1/audit/stream', status: stream.status, contentType: stream.contentType, text: stream.text }), [], 'the stream is what the document says')
  const replayed = /^data: (.+)$/m.exec(stream.text)
  t.ok(replayed, 'the history since then is replayed')
  t.same(checker.check({ method: 'GET', path: '/v1/audit', status: 200, contentType: 'application/json', text: JSON.stringify({ items: [JSON.parse(replayed?.[1] ?? '{}')] }) }), [], 'a streamed event is an AuditEvent of the document')
  await expect(400, 'GET', '/v1/audit/stream?until=now', { code: 'VALIDATION_FAILED' })

  // Operations: config reload, master keys.
  t.same((await expect(200, 'POST', '/v1/config/reload')).body.restartNeeded, [], 'the same file: nothing waits for a restart')
  writeFileSync(configFile, `${configText}\nnotAKey: 1\n`)
  const refused = await expect(400, 'POST', '/v1/config/reload', { code: 'CONFIG_INVALID' })
  t.match(refused.body.message, /notAKey/, 'the message names the key')
  writeFileSync(configFile, configText)
  await expect(400, 'POST', '/v1/config/reload', { body: { file: '/etc/other.yaml' }, code: 'VALIDATION_FAILED' })
  const keys = await expect(200, 'GET', '/v1/keys')
  t.type(keys.body.currentKeyId, 'string')
  t.match((await expect(202, 'POST', '/v1/keys/rotate')).body.state, /^(running|done)$/)
  await expect(200, 'GET', '/v1/keys')

  // Deletes last: an instance that still holds ACTIVE CAs is refused unless forced.
  await expect(409, 'DELETE', `/v1/instances/${mqttId}`, { code: 'INSTANCE_IN_USE' })
  await expect(200, 'POST', `/v1/instances/${mqttId}/cas/${caId}/deactivate`)
  await expect(404, 'DELETE', `/v1/instances/${mqttId}/cas/${'0'.repeat(64)}`, { code: 'NOT_FOUND' })
  await expect(204, 'DELETE', `/v1/instances/${mqttId}/cas/${caId}`)
  await expect(204, 'DELETE', `/v1/access-keys/${key.accessKeyId}`)
  await expect(404, 'DELETE', `/v1/access-keys/${key.accessKeyId}`, { code: 'NOT_FOUND' })
  await expect(204, 'DELETE', `/v1/instances/${mqttId}`)
  await expect(204, 'DELETE', `/v1/instances/${amqpId}?force=true`)
  await expect(404, 'DELETE', `/v1/instances/${mqttId}`, { code: 'NOT_FOUND' })

  // Every operation was driven to a success, and every signed one to errors too.
  const { operations: never } = checker.notExercised()
  t.same(never, [], 'no operation left undriven')
  for (const { method, path, op } of operations(doc)) {
    const seen = [...(checker.exercised.get(`${method} ${path}`) ?? [])]
    t.ok(seen.some((s) => s >= 200 && s < 300), `${method} ${path}: driven to a success (${seen.join(', ')})`)
    if (path.startsWith('/v1/')) t.ok(seen.filter((s) => s >= 400).length >= 2, `${method} ${path}: driven to errors (${seen.join(', ')})`)
    void op
  }
  t.comment(`documented statuses not provoked here (store faults, internal errors, races): ${checker.notExercised().statuses.length}`)

  /** Opens the live tail and reads until one event arrived (or 5 s passed), then closes it. */
  async function openStream(path: string): Promise<{ status: number; contentType: string | undefined; text: string }> {
    const controller = new AbortController()
    const res = await fetch(gateway.adminUrl + path, { headers: signRequest({ method: 'GET', url: path, ...root }), signal: controller.signal })
    let text = ''
    const reader = res.body?.getReader()
    const deadline = Date.now() + 5000
    while (reader !== undefined && !/\ndata: /.test(text) && Date.now() < deadline) {
      const { value, done } = await reader.read()
      if (done) break
      text += Buffer.from(value).toString('utf8')
    }
    controller.abort()
    await reader?.cancel().catch(() => undefined)
    return { status: res.status, contentType: res.headers.get('content-type') ?? undefined, text }
  }
})
