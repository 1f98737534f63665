import { fork, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import type { OpName, WorkerOps } from './worker'

type Args<K extends OpName> = Parameters<WorkerOps[K]>[0]
type Result<K extends OpName> = Awaited<ReturnType<WorkerOps[K]>>

/**
 * The bench's side of a load-generator process. The process is forked, so it runs on the cores
 * the bench itself is pinned to (the generator core).
 */
export class LoadWorker {
  private readonly child: ChildProcess
  private nextId = 1
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()

  constructor(readonly name: string) {
    this.child = fork(join(__dirname, 'worker.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.child.on('message', (msg: { id: number; ok: boolean; result?: unknown; error?: string }) => {
      const p = this.pending.get(msg.id)
      if (p === undefined) return
      this.pending.delete(msg.id)
      if (msg.ok) p.resolve(msg.result)
      else p.reject(new Error(`${name}: ${msg.error ?? 'failed'}`))
    })
    this.child.on('exit', (code) => {
      for (const p of this.pending.values()) p.reject(new Error(`${name} exited (${code})`))
      this.pending.clear()
    })
  }

  get pid(): number {
    return this.child.pid ?? -1
  }

  call<K extends OpName>(op: K, args: Args<K>): Promise<Result<K>> {
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      this.child.send({ id, op, args })
    })
  }

  stop(): void {
    if (this.child.connected) this.child.disconnect()
  }
}
