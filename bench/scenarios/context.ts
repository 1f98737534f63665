import type { LoadWorker } from '../load/worker-client'
import type { BenchOptions } from '../options'
import type { Results } from '../results'

export interface BenchContext {
  options: BenchOptions
  results: Results
  /** Receives (subscriber / consumer) in one generator process… */
  receiver: LoadWorker
  /** …and sends (publishers, connection loops, probes) in another. */
  sender: LoadWorker
  /** The bench Mosquitto: its CPU is recorded next to the proxy's. */
  brokerPid: number
  runId: string
  log(message: string): void
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
