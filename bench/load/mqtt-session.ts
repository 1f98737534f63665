import { DISCONNECT, encodeSubscribe, MqttScanner, PACKET } from './mqtt-wire'
import { openSocket, type LoadSocket, type OpenOptions, type Target } from './target'

/**
 * A raw MQTT 3.1.1 client connection: CONNECT/CONNACK, SUBSCRIBE/SUBACK, then counting. A refusal
 * (CONNACK return code ≠ 0, MQTT 3.1.1 §3.2.2.3) or a close fails whatever is awaited.
 */
export class MqttSession {
  readonly scanner: MqttScanner
  private waiter: { type: number; resolve: (body: Buffer) => void; reject: (err: Error) => void } | undefined
  private failure: Error | undefined

  private constructor(readonly socket: LoadSocket, onPublish: ((body: Buffer) => void) | undefined) {
    this.scanner = new MqttScanner((type, body) => this.onPacket(type, body, onPublish), onPublish !== undefined)
    socket.on('data', (chunk: Buffer) => this.scanner.push(chunk))
    socket.on('close', () => this.fail(new Error('connection closed by the server')))
    socket.on('error', (err) => this.fail(err))
  }

  static async open(target: Target, connect: Buffer, o: OpenOptions & { onPublish?: (body: Buffer) => void } = {}): Promise<MqttSession> {
    const session = new MqttSession(await openSocket(target, o), o.onPublish)
    try {
      const connack = session.next(PACKET.CONNACK)
      session.socket.write(connect)
      const body = await connack
      if (body[1] !== 0) throw new Error(`CONNACK return code ${body[1] ?? '?'}`)
      return session
    } catch (err) {
      session.socket.destroy()
      throw err
    }
  }

  async subscribe(topic: string): Promise<void> {
    const suback = this.next(PACKET.SUBACK)
    this.socket.write(encodeSubscribe(topic))
    const body = await suback
    if (body[2] === 0x80) throw new Error(`SUBSCRIBE to ${topic} refused`)
  }

  close(): void {
    if (this.socket.destroyed) return
    this.socket.end(DISCONNECT)
    setTimeout(() => this.socket.destroy(), 2000).unref()
  }

  private next(type: number, timeoutMs = 10_000): Promise<Buffer> {
    if (this.failure !== undefined) return Promise.reject(this.failure)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`MQTT packet type ${type} not received in ${timeoutMs} ms`)), timeoutMs)
      this.waiter = {
        type,
        resolve: (body) => {
          clearTimeout(timer)
          resolve(body)
        },
        reject: (err) => {
          clearTimeout(timer)
          reject(err)
        },
      }
    })
  }

  private onPacket(type: number, body: Buffer | undefined, onPublish: ((body: Buffer) => void) | undefined): void {
    if (type === PACKET.PUBLISH) {
      if (body !== undefined) onPublish?.(body)
      return
    }
    if (this.waiter?.type === type) {
      const waiter = this.waiter
      this.waiter = undefined
      waiter.resolve(body ?? Buffer.alloc(0))
    }
  }

  private fail(err: Error): void {
    this.failure ??= err
    const waiter = this.waiter
    this.waiter = undefined
    waiter?.reject(err)
  }
}
