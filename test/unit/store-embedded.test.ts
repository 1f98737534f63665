import { spawn } from 'node:child_process'
import { appendFile, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { EmbeddedStore } from '../../src/store/embedded'
import { openStore } from '../../src/store/open'
import { GLOBAL_SCOPE } from '../../src/store/records'
import type { Store } from '../../src/store/store'
import { instance, storeContract } from '../helpers/store-contract'
import type { StoreFixture } from '../helpers/store-contract'
import type { Test } from '../helpers/services'
import { mountTinyDisk } from '../helpers/tiny-disk'

const LOG = 'store.log'

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'portcullis-store-'))
}

async function makeEmbedded(): Promise<StoreFixture> {
  const dataDir = await tempDir()
  let current: Store = await EmbeddedStore.open({ dataDir })
  return {
    store: current,
    reopen: async () => {
      await current.close()
      current = await EmbeddedStore.open({ dataDir })
      return current
    },
    cleanup: async () => {
      await current.close()
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}

async function logLines(dataDir: string): Promise<string[]> {
  return (await readFile(join(dataDir, LOG), 'utf8')).split('\n').filter((line) => line !== '')
}

/** A data directory removed after the test, with a store in it closed after the test. */
async function withDir(t: Test): Promise<string> {
  const dataDir = await tempDir()
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  return dataDir
}

storeContract(t, 'embedded store', makeEmbedded)

t.test('embedded store ignores a torn last line and keeps every line before it', async (t) => {
  const dataDir = await withDir(t)
  const store = await EmbeddedStore.open({ dataDir })
  await store.put('instances', GLOBAL_SCOPE, 'a', instance('a'))
  await store.put('instances', GLOBAL_SCOPE, 'b', instance('b'))
  await store.close()
  await appendFile(join(dataDir, LOG), '{"op":"put","c":"instances","s":"_","id":"c","r":{"id":"c","prot')

  const reopened = await EmbeddedStore.open({ dataDir })
  t.teardown(() => reopened.close())
  t.same(await reopened.list('instances', GLOBAL_SCOPE), [instance('a'), instance('b')])
  const text = await readFile(join(dataDir, LOG), 'utf8')
  t.notMatch(text, /"id":"c"/, 'the torn line is gone from the compacted log')
  t.ok(text.endsWith('\n'), 'the log ends on a whole line, so later appends stay readable')
  await reopened.put('instances', GLOBAL_SCOPE, 'c', instance('c'))
  await reopened.close()
  const again = await EmbeddedStore.open({ dataDir })
  t.equal(await again.count('instances', GLOBAL_SCOPE), 3, 'writes after the repair survive the next restart')
  await again.close()
})

t.test('embedded store compacts its log on open to one line per live record', async (t) => {
  const dataDir = await withDir(t)
  const store = await EmbeddedStore.open({ dataDir })
  for (let i = 0; i < 10; i++) await store.put('instances', GLOBAL_SCOPE, 'a', instance('a', [`v${i}.test`]))
  await store.put('instances', GLOBAL_SCOPE, 'b', instance('b'))
  await store.delete('instances', GLOBAL_SCOPE, 'b')
  await store.close()
  t.equal((await logLines(dataDir)).length, 12, 'before: one line per write')

  const reopened = await EmbeddedStore.open({ dataDir })
  t.teardown(() => reopened.close())
  const lines = await logLines(dataDir)
  t.equal(lines.length, 1, 'after: one line per live record')
  t.match(JSON.parse(lines[0] as string), { op: 'put', c: 'instances', id: 'a', r: { hostnames: ['v9.test'] } })
  t.same(await reopened.get('instances', GLOBAL_SCOPE, 'a'), instance('a', ['v9.test']))
})

t.test('embedded store refuses to open a log corrupted before its last line (no silent loss)', async (t) => {
  const dataDir = await withDir(t)
  const good = JSON.stringify({ op: 'put', c: 'instances', s: '_', id: 'a', r: instance('a') })
  await writeFile(join(dataDir, LOG), `${good}\nnot json\n${good}\n`)
  await t.rejects(EmbeddedStore.open({ dataDir }), { code: 'INTERNAL' })
  t.match(await readFile(join(dataDir, LOG), 'utf8'), /not json/, 'the damaged log is left as it was')
})

t.test('embedded store refuses a log entry for an unknown collection', async (t) => {
  const dataDir = await withDir(t)
  await writeFile(join(dataDir, LOG), `${JSON.stringify({ op: 'put', c: 'nope', s: '_', id: 'a', r: {} })}\n`)
  await t.rejects(EmbeddedStore.open({ dataDir }), { code: 'INTERNAL' })
})

t.test('embedded store creates its data directory 0700 and its log 0600', async (t) => {
  const parent = await withDir(t)
  const dataDir = join(parent, 'nested', 'data')
  const store = await EmbeddedStore.open({ dataDir })
  t.teardown(() => store.close())
  t.equal((await stat(dataDir)).mode & 0o777, 0o700)
  t.equal((await stat(join(dataDir, LOG))).mode & 0o777, 0o600)
})

t.test('embedded store refuses a second open of one data directory in a process', async (t) => {
  const dataDir = await withDir(t)
  const store = await EmbeddedStore.open({ dataDir })
  await t.rejects(EmbeddedStore.open({ dataDir: join(dataDir, '.') }), { code: 'STORE_UNAVAILABLE' })
  await store.close()
  const again = await EmbeddedStore.open({ dataDir })
  t.pass('the directory can be opened again once closed')
  await again.close()
})

t.test('embedded store loses no acknowledged write when its process is killed mid-write', async (t) => {
  const dataDir = await withDir(t)
  // Run the writer with the TypeScript loader tap runs this file with.
  const loader = process.execArgv.filter((arg) => arg.includes('typescript') || arg === '--enable-source-maps')
  const child = spawn(process.execPath, [...loader, join(__dirname, '../helpers/embedded-crash-writer.ts'), dataDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const acked: string[] = []
  let buffered = ''
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${acked.length} writes acknowledged in time`)), 60_000)
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8')
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      acked.push(...lines)
      if (acked.length >= 200) {
        clearTimeout(timer)
        child.kill('SIGKILL')
        resolve()
      }
    })
    child.once('exit', () => { clearTimeout(timer); resolve() })
  })
  await exited
  t.ok(acked.length >= 200, `the writer acknowledged ${acked.length} writes before it was killed`)

  const store = await EmbeddedStore.open({ dataDir })
  t.teardown(() => store.close())
  const ids = new Set((await store.list('instances', GLOBAL_SCOPE)).map((record) => record.id))
  const lost = acked.filter((id) => !ids.has(id))
  t.same(lost, [], 'every acknowledged write is there after the restart')
})

t.test('openStore opens the embedded store from config', async (t) => {
  const dataDir = await withDir(t)
  const store = await openStore({ kind: 'embedded', dataDir }, 'process-1')
  t.teardown(() => store.close())
  t.equal(store.kind, 'embedded')
  const seen: string[] = []
  store.onBroadcast((message) => seen.push(message.origin))
  await store.broadcast('hint', {})
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(seen, ['process-1'], 'broadcasts carry the process id given to openStore')
})

t.test('embedded store refuses a data directory locked by a live process, naming its pid', async (t) => {
  const dataDir = await withDir(t)
  const holder = spawn('sleep', ['30'], { stdio: 'ignore' })
  t.teardown(() => holder.kill('SIGKILL'))
  await symlink(`${holder.pid}:-:cafe`, join(dataDir, 'LOCK'))
  await t.rejects(EmbeddedStore.open({ dataDir }), { code: 'STORE_LOCKED', message: new RegExp(`process ${holder.pid}\\b`) })
  const exited = new Promise((resolve) => holder.once('exit', resolve))
  holder.kill('SIGKILL')
  await exited
  const store = await EmbeddedStore.open({ dataDir })
  t.teardown(() => store.close())
  t.equal((await readlink(join(dataDir, 'LOCK'))).split(':')[0], String(process.pid), 'the stale lock of a dead pid is taken over')
})

t.test('embedded store takes over a lock whose pid now belongs to another process (pid reuse)', async (t) => {
  const dataDir = await withDir(t)
  // Our own pid, but a start time that is not ours: the pid was reused since the lock was taken.
  await symlink(`${process.pid}:1:cafe`, join(dataDir, 'LOCK'))
  const store = await EmbeddedStore.open({ dataDir })
  await store.close()
  await t.rejects(readlink(join(dataDir, 'LOCK')), { code: 'ENOENT' }, 'close releases the lock')
})

t.test('embedded store on a full disk starts read-only: reads served, writes refused, then recovers', async (t) => {
  const disk = mountTinyDisk(128)
  if (disk === undefined) return void t.pass('needs a tmpfs', { skip: 'cannot mount a tmpfs here (needs root)' })
  t.teardown(() => disk.unmount())
  const dataDir = join(disk.dir, 'data')
  const first = await EmbeddedStore.open({ dataDir })
  for (let i = 0; i < 20; i++) await first.put('instances', GLOBAL_SCOPE, `i${i}`, instance(`i${i}`))
  await first.close()
  disk.fill()

  const store = await EmbeddedStore.open({ dataDir, recoverEveryMs: 200 })
  t.teardown(() => store.close())
  t.match(store.writeState(), { writable: false, cause: /ENOSPC/ }, 'the start-up compaction could not be written')
  t.equal((await store.list('instances', GLOBAL_SCOPE)).length, 20, 'reads are served from the log')
  await t.rejects(store.put('instances', GLOBAL_SCOPE, 'new', instance('new')), { code: 'STORE_READ_ONLY' })
  t.equal((await logLines(dataDir)).length, 20, 'the log on disk is intact')

  disk.free()
  const deadline = Date.now() + 5000
  while (!store.writeState().writable && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(store.writeState(), { writable: true }, 'the background compaction made it writable again')
  await store.put('instances', GLOBAL_SCOPE, 'new', instance('new'))
  t.equal((await store.list('instances', GLOBAL_SCOPE)).length, 21)
})

t.test('embedded store whose disk fills while running refuses writes STORE_READ_ONLY and recovers on a later write', async (t) => {
  const disk = mountTinyDisk(128)
  if (disk === undefined) return void t.pass('needs a tmpfs', { skip: 'cannot mount a tmpfs here (needs root)' })
  t.teardown(() => disk.unmount())
  const dataDir = join(disk.dir, 'data')
  const store = await EmbeddedStore.open({ dataDir, recoverEveryMs: 60_000 })
  t.teardown(() => store.close())
  await store.put('instances', GLOBAL_SCOPE, 'before', instance('before'))
  disk.fill()
  // The log's last page may still take a few lines; a large record cannot fit.
  const big = { ...instance('big'), hostnames: Array.from({ length: 400 }, (_, i) => `host-${i}.example.com`) }
  await t.rejects(store.put('instances', GLOBAL_SCOPE, 'big', big), { code: 'STORE_READ_ONLY' })
  t.equal(store.writeState().writable, false, 'the store says it cannot write')
  t.equal(await store.get('instances', GLOBAL_SCOPE, 'big'), undefined, 'memory did not change')
  for (const line of await logLines(dataDir)) JSON.parse(line)
  t.pass('no torn line left in the log')
  disk.free()
  await new Promise((resolve) => setTimeout(resolve, 1100)) // recovery on a write is tried at most once a second
  await store.put('instances', GLOBAL_SCOPE, 'big', big)
  t.same(store.writeState(), { writable: true })
  const reopened = await (async () => { await store.close(); return EmbeddedStore.open({ dataDir }) })()
  t.teardown(() => reopened.close())
  t.ok(await reopened.get('instances', GLOBAL_SCOPE, 'big'), 'the write after recovery is durable')
})
