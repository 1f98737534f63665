/**
 * A diagnostic hook that bench/connect-profile.ts loads into a server process with `--require`,
 * so that the server's own code is not touched: it counts the bytes the process allocates on the
 * V8 heap, a work count that a busy 2-core machine cannot inflate the way it inflates CPU time.
 *
 * V8 reports no running allocation total, but `v8.GCProfiler` records the heap in use before and
 * after every collection; what was allocated between two samples is then the sum, over the
 * collections in between, of (in use before this GC − in use after the previous one), plus the
 * growth since the last one. On SIGUSR2 the hook writes `<dir>/<pid>-<seq>.json` with the total
 * since it was loaded, the collections counted and the process's CPU time (`process.cpuUsage`,
 * every thread). `dir` is BENCH_WORK_HOOK_DIR; without it the hook does nothing.
 *
 * With BENCH_WORK_HOOK_ALLOC_PROFILE=FILE it also samples allocations (the inspector's sampling
 * heap profiler, counting objects the GC has already collected too) from the second signal on, and
 * writes what it sampled so far to FILE (a .heapprofile, readable by Chrome DevTools) at each
 * later one: the allocations of the blocks after the first, warm ones.
 */
import { Session } from 'node:inspector'
import { renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { GCProfiler, getHeapStatistics } from 'node:v8'

export interface WorkSample {
  pid: number
  seq: number
  /** Bytes allocated on the V8 heap since the hook was loaded. */
  allocatedBytes: number
  collections: number
  cpuMicros: number
}

interface GcStatistics {
  beforeGC: { heapStatistics: { usedHeapSize: number } }
  afterGC: { heapStatistics: { usedHeapSize: number } }
}

const allocProfile = process.env.BENCH_WORK_HOOK_ALLOC_PROFILE
let inspector: Session | undefined

function profileAllocations(file: string, seq: number): void {
  if (seq === 2) {
    inspector = new Session()
    inspector.connect()
    inspector.post('HeapProfiler.enable')
    inspector.post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as object)
    return
  }
  inspector?.post('HeapProfiler.getSamplingProfile', (err, result) => {
    if (err === null) writeFileSync(file, JSON.stringify((result as { profile: unknown }).profile))
  })
}

const dir = process.env.BENCH_WORK_HOOK_DIR
if (dir !== undefined && dir !== '') {
  let profiler = new GCProfiler()
  let lastUsed = getHeapStatistics().used_heap_size
  let allocated = 0
  let collections = 0
  let seq = 0
  profiler.start()
  process.on('SIGUSR2', () => {
    const stats = (profiler.stop()?.statistics ?? []) as unknown as GcStatistics[]
    for (const gc of stats) {
      allocated += Math.max(0, gc.beforeGC.heapStatistics.usedHeapSize - lastUsed)
      lastUsed = gc.afterGC.heapStatistics.usedHeapSize
      collections++
    }
    const used = getHeapStatistics().used_heap_size
    allocated += Math.max(0, used - lastUsed)
    lastUsed = used
    profiler = new GCProfiler()
    profiler.start()
    if (allocProfile !== undefined && allocProfile !== '') profileAllocations(allocProfile, seq + 1)
    const cpu = process.cpuUsage()
    const sample: WorkSample = { pid: process.pid, seq: ++seq, allocatedBytes: allocated, collections, cpuMicros: cpu.user + cpu.system }
    const file = join(dir, `${process.pid}-${sample.seq}.json`)
    writeFileSync(file + '.tmp', JSON.stringify(sample))
    renameSync(file + '.tmp', file)
  })
}
