/**
 * A diagnostic hook the idle-memory breakdown (bench/idle-memory-breakdown.ts) loads into a server
 * process with `--require` (with `--expose-gc`), so that the gateway's own code is not touched:
 * on SIGUSR2 it reads `<dir>/<pid>.request` ({"snapshot": boolean, "tag": string}), collects
 * garbage, and writes `<dir>/<pid>-<tag>.json` with process.memoryUsage(), V8's heap spaces and
 * the process's resident memory by mapping kind (/proc/self/smaps), plus a heap snapshot
 * `<dir>/<pid>-<tag>.heapsnapshot` when asked. `dir` is BENCH_MEMORY_HOOK_DIR; without it the
 * hook does nothing. It allocates only when signalled.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { getHeapSpaceStatistics, getHeapStatistics, writeHeapSnapshot } from 'node:v8'

export interface MemorySample {
  pid: number
  tag: string
  memoryUsage: NodeJS.MemoryUsage
  heap: { usedBytes: number; totalBytes: number; mallocedBytes: number; externalBytes: number }
  spaces: Record<string, { usedBytes: number; committedBytes: number }>
  /** Resident bytes by mapping: [heap] (glibc's main arena), anonymous mappings, files, stacks. */
  smaps: { mainArenaBytes: number; anonymousBytes: number; fileBytes: number; stackBytes: number }
  snapshot?: string
}

export function residentByMapping(smaps: string): MemorySample['smaps'] {
  const out = { mainArenaBytes: 0, anonymousBytes: 0, fileBytes: 0, stackBytes: 0 }
  let kind: keyof typeof out = 'anonymousBytes'
  for (const line of smaps.split('\n')) {
    // A mapping header: "start-end perms offset dev inode [path]".
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line)
    if (header !== null) {
      const path = header[1] ?? ''
      kind = path === '[heap]' ? 'mainArenaBytes' : path === '' ? 'anonymousBytes' : path.startsWith('[stack') ? 'stackBytes' : path.startsWith('[') ? 'anonymousBytes' : 'fileBytes'
      continue
    }
    const rss = /^Rss:\s+(\d+) kB$/.exec(line)
    if (rss !== null) out[kind] += Number(rss[1]) * 1024
  }
  return out
}

function sample(dir: string): void {
  let request: { snapshot?: boolean; tag?: string } = {}
  try {
    request = JSON.parse(readFileSync(join(dir, `${process.pid}.request`), 'utf8')) as typeof request
  } catch {
    // No request file: a plain sample.
  }
  const tag = request.tag ?? String(Date.now())
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  gc?.()
  const h = getHeapStatistics()
  const spaces: MemorySample['spaces'] = {}
  for (const s of getHeapSpaceStatistics()) spaces[s.space_name] = { usedBytes: s.space_used_size, committedBytes: s.space_size }
  const out: MemorySample = {
    pid: process.pid, tag, memoryUsage: process.memoryUsage(),
    heap: { usedBytes: h.used_heap_size, totalBytes: h.total_heap_size, mallocedBytes: h.malloced_memory, externalBytes: h.external_memory },
    spaces, smaps: residentByMapping(readFileSync('/proc/self/smaps', 'utf8')),
  }
  if (request.snapshot === true) out.snapshot = writeHeapSnapshot(join(dir, `${process.pid}-${tag}.heapsnapshot`))
  // Written whole, then renamed: the reader never sees half a file.
  const file = join(dir, `${process.pid}-${tag}.json`)
  writeFileSync(file + '.tmp', JSON.stringify(out))
  renameSync(file + '.tmp', file)
}

const dir = process.env.BENCH_MEMORY_HOOK_DIR
if (dir !== undefined && dir !== '') process.on('SIGUSR2', () => sample(dir))
