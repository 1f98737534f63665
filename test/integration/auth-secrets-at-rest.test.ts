/**
 * Issue 3's key guarantee: "Neither the embedded data directory nor Redis ever holds a secret in
 * clear" (DESIGN §1, secrets encrypted at rest). Real stores, real files, real Redis keys: after
 * creating AccessKeys and static accounts, every byte at rest is searched for every secret and
 * every static password, in clear and in the encodings a careless write would use.
 */
import { randomUUID } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, lstat, readlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Redis from 'ioredis'
import t, { type Test } from 'tap'
import { AccessKeyService } from '../../src/auth/access-keys'
import { encodeUserName, secretSignFor, signatureFor } from '../../src/auth/credentials'
import { loadMasterKey } from '../../src/auth/master-key'
import { StaticAccountService } from '../../src/auth/static-accounts'
import { InstanceService } from '../../src/instances/instance-service'
import { EmbeddedStore } from '../../src/store/embedded'
import { RedisStore } from '../../src/store/redis'
import type { Store } from '../../src/store/store'
import { DEFAULT_PORTS, serviceAvailable } from '../helpers/services'

const REDIS_URL = `redis://127.0.0.1:${DEFAULT_PORTS.redis}`
const TS = '1700000000000'

interface Planted {
  /** Every value that must not be found at rest, with a name for the failure message. */
  forbidden: Array<[string, string]>
  /** AccessKey ids (public): present at rest, which shows the search looks at the right data. */
  ids: string[]
}

/** Several AccessKeys (one disabled), static accounts on two instances, one deleted. */
async function plant(store: Store, keys: AccessKeyService): Promise<Planted> {
  const instances = new InstanceService(store)
  const statics = new StaticAccountService(store, keys)
  for (const id of ['amqp-1', 'amqp-2']) {
    await instances.create({ id, protocol: 'amqp', hostnames: [`${id}.example.com`], backend: { host: '127.0.0.1', port: 5672 } })
  }
  const forbidden: Array<[string, string]> = []
  const ids: string[] = []
  for (let i = 0; i < 4; i++) {
    const { accessKeyId: ak, accessKeySecret: sk } = await keys.create({ description: `key ${i}` })
    ids.push(ak)
    forbidden.push(...encodings(`secret ${i}`, sk))
    for (const instanceId of ['amqp-1', 'amqp-2']) {
      const answer = await statics.create(instanceId, {
        accountAccessKey: ak,
        userName: encodeUserName({ type: 2, instanceId, accessKeyId: ak }),
        createTimestamp: TS,
        signature: signatureFor(sk, TS),
        secretSign: secretSignFor(sk, TS),
      })
      forbidden.push(...encodings(`password ${i}@${instanceId}`, answer.password))
      const decoded = Buffer.from(answer.password, 'base64').toString('utf8')
      forbidden.push([`decoded password ${i}@${instanceId}`, decoded])
      forbidden.push([`password signature ${i}@${instanceId}`, decoded.split(':')[0] ?? ''])
      forbidden.push([`password signature (lower) ${i}@${instanceId}`, (decoded.split(':')[0] ?? '').toLowerCase()])
    }
    if (i === 1) await keys.setStatus(ak, 'Inactive')
    if (i === 2) await statics.delete('amqp-1', ak)
  }
  return { forbidden, ids }
}

/** The value in clear, and in the encodings a leak would most likely take. */
function encodings(name: string, value: string): Array<[string, string]> {
  const bytes = Buffer.from(value, 'utf8')
  return [
    [name, value],
    [`${name} (Base64)`, bytes.toString('base64').replace(/=+$/, '')],
    [`${name} (base64url)`, bytes.toString('base64url')],
    [`${name} (hex)`, bytes.toString('hex')],
    [`${name} (HEX)`, bytes.toString('hex').toUpperCase()],
    [`${name} (JSON-escaped)`, JSON.stringify(value).slice(1, -1)],
  ]
}

function assertAbsent(t: Test, where: string, haystack: string, planted: Planted): void {
  t.same(planted.ids.filter((id) => !haystack.includes(id)), [], `${where}: every AccessKey record is in what was searched`)
  const found = planted.forbidden.filter(([, needle]) => needle.length > 0 && haystack.includes(needle)).map(([name]) => name)
  t.same(found, [], `${where}: no secret or password in any form`)
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...(await filesUnder(path)))
    else out.push(path)
  }
  return out
}

async function dumpDirectory(dir: string): Promise<string> {
  const parts: string[] = []
  for (const file of await filesUnder(dir)) {
    // The directory lock (src/store/dir-lock.ts) is a symlink whose target is the holder's pid: its
    // text is searched too, but it points at nothing to read.
    const link = await lstat(file)
    const bytes = link.isSymbolicLink() ? Buffer.from(await readlink(file), 'latin1') : await readFile(file)
    // latin1 keeps every byte as one character, so binary files are searched too.
    parts.push(`--- ${file}\n`, bytes.toString('latin1'))
  }
  return parts.join('\n')
}

/** Every key under the prefix, read by its type. */
async function dumpRedis(redis: Redis, prefix: string): Promise<{ text: string; keys: string[] }> {
  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
    cursor = next
    keys.push(...batch)
  } while (cursor !== '0')
  const parts: string[] = []
  for (const key of keys) {
    const type = await redis.type(key)
    const values: string[] = []
    switch (type) {
      case 'string': values.push((await redis.get(key)) ?? ''); break
      case 'hash': values.push(...Object.entries(await redis.hgetall(key)).flat()); break
      case 'set': values.push(...(await redis.smembers(key))); break
      case 'list': values.push(...(await redis.lrange(key, 0, -1))); break
      case 'zset': values.push(...(await redis.zrange(key, '0', '-1'))); break
      case 'stream': values.push(JSON.stringify(await redis.xrange(key, '-', '+'))); break
      default: values.push(`<unread type ${type}>`)
    }
    parts.push(`--- ${key} (${type})`, ...values)
  }
  return { text: parts.join('\n'), keys }
}

t.test('the embedded data directory never holds an AccessKey secret or a static password', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-auth-at-rest-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  // The development default: the master key is generated into the data directory itself.
  const keyring = await loadMasterKey({ dataDir: dir })
  t.equal(keyring.source, 'generated')
  const store = await EmbeddedStore.open({ dataDir: dir })
  const keys = new AccessKeyService(store, keyring)
  const planted = await plant(store, keys)
  assertAbsent(t, 'data directory while open', await dumpDirectory(dir), planted)
  keys.close()
  await store.close()
  // Reopening replays and compacts the log: the rewritten file must be just as clean.
  const reopened = await EmbeddedStore.open({ dataDir: dir })
  await reopened.close()
  assertAbsent(t, 'data directory after compaction', await dumpDirectory(dir), planted)
})

t.test('Redis never holds an AccessKey secret or a static password, in keys or change messages', async (t) => {
  if (!(await serviceAvailable(t, 'redis', DEFAULT_PORTS.redis))) return
  const prefix = `portcullis-test:auth-at-rest:${randomUUID()}:`
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-auth-at-rest-redis-'))
  const admin = new Redis(REDIS_URL)
  const listener = new Redis(REDIS_URL)
  const messages: string[] = []
  await listener.psubscribe(`${prefix}*`)
  listener.on('pmessage', (_pattern: string, _channel: string, message: string) => messages.push(message))
  t.teardown(async () => {
    const { keys } = await dumpRedis(admin, prefix)
    if (keys.length > 0) await admin.del(...keys)
    admin.disconnect()
    listener.disconnect()
    await rm(dir, { recursive: true, force: true })
  })
  const keyring = await loadMasterKey({ dataDir: dir })
  const store = await RedisStore.open({ url: REDIS_URL, keyPrefix: prefix })
  const keys = new AccessKeyService(store, keyring)
  const planted = await plant(store, keys)
  keys.close()
  await store.close()
  // Pub/sub messages arrive in order on one connection: once this marker is in, all are.
  await admin.publish(`${prefix}test-marker`, 'marker')
  while (!messages.includes('marker')) await new Promise((resolve) => setTimeout(resolve, 10))
  const dump = await dumpRedis(admin, prefix)
  t.ok(dump.keys.some((k) => k.includes('accessKeys')), 'AccessKeys were written under the prefix')
  t.ok(dump.keys.some((k) => k.includes('staticAccounts')), 'static accounts were written under the prefix')
  assertAbsent(t, 'Redis keys', dump.text, planted)
  t.ok(messages.length > 0, 'change messages were seen')
  assertAbsent(t, 'Redis change messages', messages.join('\n'), planted)
})
