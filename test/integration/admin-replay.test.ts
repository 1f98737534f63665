import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { signRequest } from '../../src/admin/signing'
import { writeDevPki } from '../../src/ca/pki'
import { unique } from '../helpers/gateway'
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process'
import { deleteRedisKeys, serviceAvailable } from '../helpers/services'

/**
 * The attack: a captured signed admin request (here: the PATCH that re-enables a disabled
 * AccessKey) is replayed after the gateway restarted, or to another replica. Nonces live in the
 * store for the whole signature window, so both replays are refused 401 NONCE_REUSED.
 */
const ROOT_ID = 'PCROOTREPLAYTEST'
const ROOT_SECRET = randomBytes(24).toString('base64url')
const MASTER_KEY = randomBytes(32).toString('base64')

function env(): Record<string, string> {
  return {
    PORTCULLIS_ROOT_ACCESS_KEY_ID: ROOT_ID,
    PORTCULLIS_ROOT_ACCESS_KEY_SECRET: ROOT_SECRET,
    PORTCULLIS_MASTER_KEY: MASTER_KEY,
    PORTCULLIS_MASTER_KEY_ID: 'replay-test-key',
  }
}

/** A signed request captured once: the same bytes can be sent again, anywhere. */
function capture(method: string, path: string, body: unknown): { send(gw: GatewayProcess): Promise<{ status: number; code?: string }> } {
  const payload = JSON.stringify(body)
  const headers = { ...signRequest({ method, url: path, body: payload, accessKeyId: ROOT_ID, accessKeySecret: ROOT_SECRET }), 'content-type': 'application/json' }
  return {
    async send(gw) {
      const res = await fetch(gw.adminUrl + path, { method, headers, body: payload })
      const json = (await res.json()) as { code?: string }
      return { status: res.status, ...(res.status >= 400 ? { code: json.code } : {}) }
    },
  }
}

function fixture(label: string): { dir: string; certsDir: string; redisPrefix: string; cleanup(): Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), `portcullis-${label}-`))
  const redisPrefix = `portcullis-test:${unique(label)}:`
  return {
    dir, certsDir: join(dir, 'certs'), redisPrefix,
    cleanup: async () => {
      await deleteRedisKeys(redisPrefix)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

t.test('a signed request replayed after a gateway restart (embedded store, same data dir) is refused', async (t) => {
  const fx = fixture('replay-embedded')
  t.teardown(fx.cleanup)
  await writeDevPki(fx.certsDir)
  const config = { store: { kind: 'embedded', dataDir: join(fx.dir, 'data') } }
  const first = await startGatewayProcess({ name: 'gw', dir: fx.dir, certsDir: fx.certsDir, redisPrefix: fx.redisPrefix, env: env(), config })
  let stopFirst = true
  t.teardown(() => (stopFirst ? first.stop() : undefined))
  const created = await first.admin('POST', '/v1/access-keys', {})
  t.equal(created.status, 201)
  const keyPath = `/v1/access-keys/${created.body.accessKeyId as string}`
  const enable = capture('PATCH', keyPath, { status: 'Active' })
  t.same(await enable.send(first), { status: 200 }, 'the captured request was genuine')
  t.equal((await first.admin('PATCH', keyPath, { status: 'Inactive' })).status, 200, 'then the key is disabled')
  await first.stop()
  stopFirst = false

  const second = await startGatewayProcess({ name: 'gw', dir: fx.dir, certsDir: fx.certsDir, redisPrefix: fx.redisPrefix, env: env(), config })
  t.teardown(() => second.stop())
  t.same(await enable.send(second), { status: 401, code: 'NONCE_REUSED' }, 'the replay after the restart is refused')
  t.equal((await second.admin('GET', keyPath)).body.status, 'Inactive', 'and the key stays disabled')
})

t.test('a signed request replayed on another replica (Redis store) is refused', async (t) => {
  if (!(await serviceAvailable(t, 'redis', 6379))) return
  const fx = fixture('replay-redis')
  await writeDevPki(fx.certsDir)
  const a = await startGatewayProcess({ name: 'a', dir: fx.dir, certsDir: fx.certsDir, redisPrefix: fx.redisPrefix, env: env() })
  const b = await startGatewayProcess({ name: 'b', dir: fx.dir, certsDir: fx.certsDir, redisPrefix: fx.redisPrefix, env: env() })
  t.teardown(async () => {
    await Promise.all([a.stop(), b.stop()])
    await fx.cleanup()
  })
  const created = await a.admin('POST', '/v1/access-keys', {})
  const keyPath = `/v1/access-keys/${created.body.accessKeyId as string}`
  const enable = capture('PATCH', keyPath, { status: 'Active' })
  t.same(await enable.send(a), { status: 200 })
  t.equal((await a.admin('PATCH', keyPath, { status: 'Inactive' })).status, 200)
  t.same(await enable.send(b), { status: 401, code: 'NONCE_REUSED' }, 'the replay on the other replica is refused')
  t.same(await enable.send(a), { status: 401, code: 'NONCE_REUSED' }, 'as on the first one')
  t.equal((await b.admin('GET', keyPath)).body.status, 'Inactive')
})
