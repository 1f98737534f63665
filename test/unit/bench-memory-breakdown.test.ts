import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { diffPerUnit, summarizeHeapSnapshotFile } from '../../bench/heap-snapshot-diff'
import { residentByMapping } from '../../bench/servers/memory-hook'

/**
 * Snapshots of a plain Node process (the test runner's own heap, with its TypeScript loader, would
 * make a snapshot of hundreds of MB): 500 objects of a named class are made between two snapshots.
 */
const CHILD = `
const { writeHeapSnapshot } = require('node:v8')
class BenchProbeSession { constructor(id) { this.id = id; this.payload = new Array(32).fill(7) } }
const held = []
writeHeapSnapshot(process.argv[1] + '/before.heapsnapshot')
for (let i = 0; i < 500; i++) held.push(new BenchProbeSession(i))
writeHeapSnapshot(process.argv[1] + '/after.heapsnapshot')
if (held.length !== 500) process.exit(1)
`

t.test('a heap snapshot diff finds the objects made between two snapshots, per unit', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-heap-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  execFileSync(process.execPath, ['-e', CHILD, dir], { stdio: 'ignore' })
  const before = summarizeHeapSnapshotFile(join(dir, 'before.heapsnapshot'))
  const after = summarizeHeapSnapshotFile(join(dir, 'after.heapsnapshot'))
  t.equal(before.get('BenchProbeSession'), undefined, 'none before')
  t.equal(after.get('BenchProbeSession')?.count, 500)
  const rows = diffPerUnit(before, after, 500, 1)
  const probe = rows.find((r) => r.key === 'BenchProbeSession')
  t.equal(probe?.count, 1, 'one per unit')
  t.ok((probe?.bytes ?? 0) >= 16, `${String(probe?.bytes)} bytes of self size per unit`)
  t.ok(rows.every((r, i) => i === 0 || (rows[i - 1]?.bytes ?? 0) >= r.bytes), 'largest growth first')
})

t.test('resident memory is split by mapping kind from smaps', async (t) => {
  const smaps = [
    '55d0c0000000-55d0c0100000 rw-p 00000000 00:00 0                          [heap]',
    'Size:               1024 kB',
    'Rss:                 800 kB',
    '7f0000000000-7f0000200000 rw-p 00000000 00:00 0 ',
    'Rss:                2048 kB',
    '7f1000000000-7f1000010000 r-xp 00000000 08:01 1234                       /usr/lib/libssl.so.3',
    'Rss:                  64 kB',
    '7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]',
    'Rss:                  12 kB',
    '7ffc10000000-7ffc10002000 r--p 00000000 00:00 0                          [vvar]',
    'Rss:                   0 kB',
  ].join('\n')
  t.same(residentByMapping(smaps), { mainArenaBytes: 800 * 1024, anonymousBytes: 2048 * 1024, fileBytes: 64 * 1024, stackBytes: 12 * 1024 })
})

t.test('this process\'s own smaps add up to its resident set', async (t) => {
  const split = residentByMapping(readFileSync('/proc/self/smaps', 'utf8'))
  const total = split.mainArenaBytes + split.anonymousBytes + split.fileBytes + split.stackBytes
  const rss = process.memoryUsage().rss
  t.ok(Math.abs(total - rss) / rss < 0.1, `${total} vs rss ${rss}`)
})
