/**
 * Audit sinks follow a config reload (DESIGN §4 "Operations and keys"): a file sink added by a
 * reload receives every event from then on, continuing the process's hash chain; the sink that
 * stays loses nothing; a removed one stops; a redis-stream change (what GET /v1/audit reads) is
 * refused with the sinks left as they were.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { parse, stringify } from 'yaml'
import { writeDevPki } from '../../src/ca/pki'
import { unique } from '../helpers/gateway'
import { startGatewayProcess } from '../helpers/gateway-process'
import { deleteRedisKeys, serviceAvailable } from '../helpers/services'

function events(file: string): Array<{ type: string; hash: string; prev: string; details: Record<string, unknown> }> {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []
}

t.test('a reload adds and removes audit sinks without losing or breaking the chain', async (t) => {
  if (!(await serviceAvailable(t, 'redis', 6379))) return
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-sinks-reload-'))
  const certsDir = join(dir, 'certs')
  await writeDevPki(certsDir)
  const redisPrefix = `portcullis-test:${unique('sinks')}:`
  const env = {
    PORTCULLIS_ROOT_ACCESS_KEY_ID: 'PCROOTSINKSRELOAD',
    PORTCULLIS_ROOT_ACCESS_KEY_SECRET: randomBytes(24).toString('base64url'),
    PORTCULLIS_MASTER_KEY: randomBytes(32).toString('base64'),
  }
  const g = await startGatewayProcess({ name: 's', dir, certsDir, redisPrefix, env })
  t.teardown(async () => {
    await g.stop()
    await deleteRedisKeys(redisPrefix)
    rmSync(dir, { recursive: true, force: true })
  })
  const configFile = join(dir, 's.yaml')
  const original = parse(readFileSync(configFile, 'utf8')) as Record<string, any>
  const first = join(dir, 's-audit.jsonl')
  const added = join(dir, 'added-audit.jsonl')
  const withSinks = (sinks: unknown[]): void => writeFileSync(configFile, stringify({ ...original, audit: { ...original.audit, sinks } }))
  const makeKey = async (description: string): Promise<void> => {
    t.equal((await g.admin('POST', '/v1/access-keys', { description })).status, 201)
  }

  await makeKey('key-made-before')
  withSinks([{ kind: 'file', path: first }, { kind: 'file', path: added }])
  const reload = await g.admin('POST', '/v1/config/reload')
  t.equal(reload.status, 200, JSON.stringify(reload.body))
  t.same(reload.body.applied, ['audit.sinks'], 'the sink change is applied live')
  t.same(reload.body.restartNeeded, [])
  await makeKey('key-made-both')
  await new Promise((resolve) => setTimeout(resolve, 300))
  const inAdded = events(added)
  t.ok(inAdded.some((e) => e.type === 'admin.accessKey.create' && e.details.after !== undefined && JSON.stringify(e).includes('key-made-both')), 'the added sink receives events from the reload on')
  t.notOk(inAdded.some((e) => JSON.stringify(e).includes('key-made-before')), 'and nothing from before it')
  const chain = events(first)
  for (let i = 1; i < chain.length; i++) t.equal(chain[i]?.prev, chain[i - 1]?.hash, `the kept sink's chain is unbroken at event ${i}`, { diagnostic: false })
  t.ok(chain.some((e) => JSON.stringify(e).includes('key-made-both')), 'the kept sink lost nothing')
  const head = inAdded[0]
  t.ok(head !== undefined && chain.some((e) => e.hash === head.prev), "the added sink's first event continues the process's chain")

  withSinks([{ kind: 'file', path: added }])
  t.equal((await g.admin('POST', '/v1/config/reload')).status, 200)
  await makeKey('after-removal')
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.notOk(readFileSync(first, 'utf8').includes('after-removal'), 'a removed sink gets nothing more')
  t.ok(readFileSync(added, 'utf8').includes('after-removal'))

  withSinks([{ kind: 'file', path: added }, { kind: 'redis-stream' }])
  const refused = await g.admin('POST', '/v1/config/reload')
  t.equal(refused.status, 400)
  t.equal(refused.body.code, 'CONFIG_INVALID')
  t.match(refused.body.message, /redis-stream sink needs a restart/)
  t.same(refused.body.applied, [], 'nothing was applied')
  await makeKey('after-refusal')
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.ok(readFileSync(added, 'utf8').includes('after-refusal'), 'the running sinks keep working')
})
