import { connectRate } from './connect-rate'
import { closeIdle, openIdle } from './idle'
import { roundTrip } from './latency'
import { stormPrepare, stormPrime, stormRelease, stormRun } from './storm'
import * as throughput from './throughput'

/**
 * A load-generator process (forked by the bench; it inherits the generator core). It runs one
 * operation at a time on request over the IPC channel and answers `{id, ok, result | error}`.
 */
const OPS = {
  openReceiver: throughput.openReceiver,
  received: async () => throughput.received(),
  closeReceiver: async () => throughput.closeReceiver(),
  openPublishers: throughput.openPublishers,
  publish: throughput.publish,
  closePublishers: async () => throughput.closePublishers(),
  connectRate,
  roundTrip,
  openIdle,
  closeIdle,
  stormPrepare,
  stormPrime,
  stormRun,
  stormRelease: async () => stormRelease(),
} as const

export type WorkerOps = typeof OPS
export type OpName = keyof WorkerOps

interface Request {
  id: number
  op: OpName
  args: unknown
}

process.on('message', (msg: Request) => {
  const op = OPS[msg.op] as ((args: unknown) => Promise<unknown>) | undefined
  if (op === undefined) {
    process.send?.({ id: msg.id, ok: false, error: `unknown op ${String(msg.op)}` })
    return
  }
  op(msg.args).then(
    (result) => process.send?.({ id: msg.id, ok: true, result }),
    (err: unknown) => process.send?.({ id: msg.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
  )
})
// A socket error with no listener left must not end the generator in the middle of a run.
process.on('uncaughtException', (err) => process.send?.({ id: -1, ok: false, error: err.message }))
process.on('disconnect', () => process.exit(0))
