import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { buildAdminContext } from '../../src/admin/context'
import { createAdminServer } from '../../src/admin/server'
import { signRequest } from '../../src/admin/signing'
import { AuditLog } from '../../src/audit/audit-log'
import { EmbeddedStore } from '../../src/store/embedded'
import { NONCE_LOG_FILE, NonceLog } from '../../src/store/nonce-cache'
import { adminHarness, ROOT } from '../helpers/admin-harness'
import { createLogger } from '../../src/observability/logger'

async function tempDir(t: tap.Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-nonces-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

t.test('the embedded store refuses a nonce claimed before it was closed and reopened', async (t) => {
  const dir = await tempDir(t)
  const first = await EmbeddedStore.open({ dataDir: dir })
  t.equal(await first.claimNonce('admin:K:nonce-1', 60_000), true)
  t.equal(await first.claimNonce('admin:K:short', 1), true)
  await first.close()
  const second = await EmbeddedStore.open({ dataDir: dir })
  t.teardown(() => second.close())
  t.equal(await second.claimNonce('admin:K:nonce-1', 60_000), false, 'the replay after a restart is refused')
  await new Promise((resolve) => setTimeout(resolve, 5))
  t.equal(await second.claimNonce('admin:K:short', 60_000), true, 'an expired claim does not outlive its ttl')
  t.equal(await second.claimNonce('admin:K:nonce-2', 60_000), true)
})

t.test('the nonce log drops expired claims when it is reopened, and concurrent claims of one nonce pass once', async (t) => {
  const dir = await tempDir(t)
  let now = 1_000_000
  const log = await NonceLog.open(dir, { now: () => now })
  t.same(await Promise.all([log.claim('n', 100), log.claim('n', 100)]), [true, false])
  t.equal(await log.claim('m', 10_000), true)
  await log.close()
  now += 1_000
  const reopened = await NonceLog.open(dir, { now: () => now })
  t.teardown(() => reopened.close())
  t.equal(reopened.size, 1, 'only the live claim was kept')
  const lines = (await readFile(join(dir, NONCE_LOG_FILE), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { n: string })
  t.same(lines.map((l) => l.n), ['m'], 'and the file was compacted to it')
  t.equal(await reopened.claim('m', 10_000), false)
})

t.test('a signed admin request replayed after the admin server and its store restart is refused NONCE_REUSED', async (t) => {
  const dir = await tempDir(t)
  const headers = signRequest({ method: 'GET', url: '/v1/instances', body: '', ...ROOT })
  const answer = async (): Promise<{ status: number; code?: string }> => {
    const h = await adminHarness(t)
    // The harness's own store is replaced by one on the shared directory: a "restart" reopens it.
    const store = await EmbeddedStore.open({ dataDir: join(dir, 'store') })
    const audit = new AuditLog({ sinks: [] })
    const { keyResolver: _unused, ...parts } = h.ctx
    const app = createAdminServer(buildAdminContext({ ...parts, store, audit, rootAccessKey: ROOT }))
    try {
      const res = await app.inject({ method: 'GET', url: '/v1/instances', headers })
      return { status: res.statusCode, code: res.statusCode === 200 ? undefined : res.json().code }
    } finally {
      await app.close()
      await audit.close()
      await store.close()
    }
  }
  t.same(await answer(), { status: 200, code: undefined }, 'the first time it is accepted')
  t.same(await answer(), { status: 401, code: 'NONCE_REUSED' }, 'after the restart the replay is refused')
})

t.test('a store failure behind an admin request is logged with its cause, not "[object Object]"', async (t) => {
  const dir = await tempDir(t)
  const logFile = join(dir, 'gateway.log')
  const logger = createLogger({ level: 'info', destination: logFile })
  const h = await adminHarness(t, { logger })
  // A real file-system failure: the nonce log's path is taken by a directory.
  await mkdir(join(h.dataDir, NONCE_LOG_FILE))
  const res = await h.call('GET', '/v1/instances')
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'STORE_UNAVAILABLE')
  t.notMatch(res.body, /EISDIR|nonces/, 'the answer stays generic')
  logger.flush()
  const text = await readFile(logFile, 'utf8')
  t.notOk(text.includes('[object Object]'))
  const line = text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, any>).find((l) => l.msg === 'admin request failed')
  t.match(line?.err, { code: 'STORE_UNAVAILABLE', message: /could not open nonces\.log/ })
  t.match(line?.cause, [{ code: 'EISDIR', message: /EISDIR/ }], 'the cause is logged: its message and code')
})
