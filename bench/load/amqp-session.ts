import { encodeUserName, passwordFor } from '../../src/auth/credentials'
import * as wire from './amqp-wire'
import { openSocket, type AmqpAuth, type LoadSocket, type OpenOptions, type Target } from './target'

/** The login an AMQP client sends: the broker's own, or one derived now from an AccessKey. */
export function credentialsFor(auth: AmqpAuth): { username: string; password: string } {
  if (auth.kind === 'plain') return { username: auth.username, password: auth.password }
  return {
    username: encodeUserName({ type: 0, instanceId: auth.instanceId, accessKeyId: auth.accessKeyId }),
    password: passwordFor(auth.accessKeySecret, String(Date.now())),
  }
}

/**
 * A raw AMQP 0-9-1 client connection: the handshake to Open-Ok (AMQP 0-9-1 §2.2.4), one channel,
 * and deliveries counted by the scanner. A Connection.Close or Channel.Close from the server fails
 * whatever is awaited, with the server's reply text.
 */
export class AmqpSession {
  readonly scanner: wire.AmqpScanner
  private waiter: { id: number; resolve: (args: Buffer) => void; reject: (err: Error) => void } | undefined
  private failure: Error | undefined

  private constructor(readonly socket: LoadSocket) {
    this.scanner = new wire.AmqpScanner((id, args) => this.onMethod(id, args))
    socket.on('data', (chunk: Buffer) => this.scanner.push(chunk))
    socket.on('close', () => this.fail(new Error('connection closed by the server')))
    socket.on('error', (err) => this.fail(err))
  }

  static async open(target: Target, auth: AmqpAuth, o: OpenOptions = {}): Promise<AmqpSession> {
    const session = new AmqpSession(await openSocket(target, o))
    try {
      const { username, password } = credentialsFor(auth)
      const start = session.next(wire.METHOD.START)
      session.socket.write(wire.PROTOCOL_HEADER)
      await start
      const tune = session.next(wire.METHOD.TUNE)
      session.socket.write(wire.startOk(username, password))
      const args = await tune
      const openOk = session.next(wire.METHOD.OPEN_OK)
      session.socket.write(Buffer.concat([
        wire.tuneOk({ channelMax: args.readUInt16BE(0), frameMax: args.readUInt32BE(2), heartbeat: 0 }),
        wire.open(),
      ]))
      await openOk
      return session
    } catch (err) {
      session.socket.destroy()
      throw err
    }
  }

  async openChannel(): Promise<void> {
    const ok = this.next(wire.METHOD.CHANNEL_OPEN_OK)
    this.socket.write(wire.channelOpen())
    await ok
  }

  async consume(queue: string): Promise<void> {
    const declared = this.next(wire.METHOD.QUEUE_DECLARE_OK)
    this.socket.write(wire.queueDeclare(queue))
    await declared
    const consuming = this.next(wire.METHOD.CONSUME_OK)
    this.socket.write(wire.basicConsume(queue))
    await consuming
  }

  /** Connection.Close, then a half-close: the broker sees a clean goodbye, not a dropped socket. */
  close(): void {
    if (this.socket.destroyed) return
    this.socket.end(wire.close())
    setTimeout(() => this.socket.destroy(), 2000).unref()
  }

  private next(id: number, timeoutMs = 10_000): Promise<Buffer> {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`AMQP method 0x${id.toString(16)} not received in ${timeoutMs} ms`)), timeoutMs)
      this.waiter = {
        id,
        resolve: (args) => {
          clearTimeout(timer)
          resolve(args)
        },
        reject: (err) => {
          clearTimeout(timer)
          reject(err)
        },
      }
    })
  }

  private onMethod(id: number, args: Buffer): void {
    if (id === wire.METHOD.CLOSE || id === wire.METHOD.CHANNEL_CLOSE) {
      const text = args.subarray(3, 3 + (args[2] ?? 0)).toString('utf8')
      this.fail(new Error(`${id === wire.METHOD.CLOSE ? 'connection' : 'channel'} closed by the server: ${args.readUInt16BE(0)} ${text}`))
      return
    }
    if (this.waiter?.id === id) {
      const waiter = this.waiter
      this.waiter = undefined
      waiter.resolve(args)
    }
  }

  private fail(err: Error): void {
    this.failure ??= err
    const waiter = this.waiter
    this.waiter = undefined
    waiter?.reject(err)
  }
}
