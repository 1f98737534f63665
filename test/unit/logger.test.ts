import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { Test } from '../helpers/services'
import { createLogger, type Logger } from '../../src/observability/logger'

async function logToFile(t: Test, level: string, write: (logger: Logger) => void): Promise<Record<string, unknown>[]> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-log-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const path = join(dir, 'logs', 'gateway.log')
  const logger = createLogger({ level, destination: path })
  write(logger)
  logger.flush()
  const text = await readFile(path, 'utf8')
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)
}

t.test('redacts secret fields at the depths pino can express', async (t) => {
  const [line] = await logToFile(t, 'info', (logger) =>
    logger.info({
      password: 'p0',
      accessKeySecret: 's0',
      instance: { backend: { password: 'p2' }, serverCertificate: { privateKey: 'k2' } },
      a: { b: { c: { token: 't4' } } },
      headers: { authorization: 'PORTCULLIS-HMAC-SHA1 AK:sig', host: 'h' },
      accessKeyId: 'AK',
    }, 'redaction'),
  )
  const text = JSON.stringify(line)
  for (const secret of ['p0', 's0', 'p2', 'k2', 't4', 'HMAC']) t.notOk(text.includes(secret), `${secret} redacted`)
  t.match(line, { accessKeyId: 'AK', headers: { host: 'h', authorization: '[REDACTED]' } })
})

t.test('serializes errors by allow-list: code and message, stack only at debug', async (t) => {
  const err = Object.assign(new Error('backend down'), { code: 'ECONNREFUSED', config: { password: 'x' } })
  const [info] = await logToFile(t, 'info', (logger) => logger.error({ err }, 'failed'))
  t.same(info?.['err'], { message: 'backend down', code: 'ECONNREFUSED' })
  const [debug] = await logToFile(t, 'debug', (logger) => logger.error({ err }, 'failed'))
  t.match(debug?.['err'], { message: 'backend down', code: 'ECONNREFUSED', stack: /Error: backend down/ })
})

t.test('an error logs its cause, and a thrown non-Error its message and code only, never "[object Object]"', async (t) => {
  const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' })
  const err = Object.assign(new Error('redis store call failed'), { code: 'STORE_UNAVAILABLE', cause })
  const [wrapped] = await logToFile(t, 'info', (logger) => logger.warn({ err }, 'failed'))
  t.same(wrapped?.['err'], { message: 'redis store call failed', code: 'STORE_UNAVAILABLE', cause: 'connect ECONNREFUSED 127.0.0.1:6379', causeCode: 'ECONNREFUSED' })
  const [plain] = await logToFile(t, 'info', (logger) => logger.warn({ err: { message: 'reply error', code: 'ERR', password: 'p9' } }, 'failed'))
  t.same(plain?.['err'], { message: 'reply error', code: 'ERR' })
  const [bare] = await logToFile(t, 'info', (logger) => logger.warn({ err: { secret: 's9' } }, 'failed'))
  t.same(bare?.['err'], { message: 'a Object object without a message' })
})

t.test('serializes requests without query string or headers', async (t) => {
  const req = { method: 'GET', url: '/v1/audit?since=x', id: 'r1', headers: { authorization: 'sig' } }
  const [line] = await logToFile(t, 'info', (logger) => logger.info({ req }, 'request'))
  t.same(line?.['req'], { method: 'GET', path: '/v1/audit', requestId: 'r1' })
})
