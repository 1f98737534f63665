import type { EventEmitter } from 'node:events'
import pino from 'pino'
import type { AuditEvent } from '../event'
import { toJsonLines, type AuditSink } from './sink'

/** The part of a writable stream the sink uses (a net.Socket, a SonicBoom, a PassThrough…). */
export interface LineStream extends EventEmitter {
  write(chunk: string): boolean
}

/**
 * Audit events as JSON lines on stdout (DESIGN §3), the default sink.
 *
 * Why not `process.stdout.write`: on Linux, Node makes stdout synchronous for files and pipes, so a
 * slow reader would stall the event loop, i.e. the data path. The default stream is an async
 * SonicBoom on fd 1 (the writer pino itself uses), which writes off the loop and handles EAGAIN.
 * Backpressure: when the stream reports a full buffer, `write` waits for 'drain' before resolving;
 * meanwhile the SinkQueue keeps further events up to its bound, then drops and counts them.
 */
export class StdoutSink implements AuditSink {
  readonly name: string
  private readonly stream: LineStream
  private readonly ownsStream: boolean
  private failure: Error | undefined

  constructor(opts: { stream?: LineStream; name?: string } = {}) {
    this.name = opts.name ?? 'stdout'
    this.ownsStream = opts.stream === undefined
    this.stream = opts.stream ?? pino.destination({ dest: 1, sync: false })
    // An 'error' without a listener would take the process down (EPIPE when the reader went away).
    this.stream.on('error', (err: Error) => {
      this.failure = err
    })
  }

  async write(batch: AuditEvent[]): Promise<void> {
    if (this.failure !== undefined) throw this.failure
    if (this.stream.write(toJsonLines(batch))) return
    await new Promise<void>((resolve, reject) => {
      const onDrain = (): void => {
        this.stream.removeListener('error', onError)
        resolve()
      }
      const onError = (err: Error): void => {
        this.stream.removeListener('drain', onDrain)
        reject(err)
      }
      this.stream.once('drain', onDrain)
      this.stream.once('error', onError)
    })
  }

  async close(): Promise<void> {
    if (!this.ownsStream || this.failure !== undefined) return
    // Flush what SonicBoom still buffers; fd 1 itself stays open for whoever else writes to it.
    const boom = this.stream as ReturnType<typeof pino.destination>
    await new Promise<void>((resolve) => boom.flush(() => resolve()))
  }
}
