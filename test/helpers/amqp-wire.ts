/**
 * What the gateway really said on an AMQP connection. amqplib reports a Connection.Close that
 * arrives in place of Open-Ok only as "Expected ConnectionOpenOk; got <ConnectionClose channel:0>",
 * without its reply code or text; this tap sees the frames themselves.
 *
 * A plain TCP listener on 127.0.0.1:0 that, for each client (amqplib with an `amqp://` URL to
 * `port`), opens TLS to the gateway (SNI, trusted CA) and pipes both ways, parsing the gateway's
 * bytes into frames and recording every Connection.Close (class 10, method 50) it sends.
 */
import { createServer, type Server, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'

export interface WireClose {
  /** Date.now() when the frame's last byte came from the gateway. */
  at: number
  channel: number
  replyCode: number
  replyText: string
}

export interface AmqpWireTap {
  port: number
  /** Every Connection.Close the gateway sent, in order, over all connections through the tap. */
  readonly closes: readonly WireClose[]
  close(): Promise<void>
}

const FRAME_METHOD = 1
const FRAME_END = 0xce

export async function startAmqpWireTap(target: { port: number; servername: string; ca: string; host?: string }): Promise<AmqpWireTap> {
  const closes: WireClose[] = []
  const sockets = new Set<Socket>()
  const track = (s: Socket): void => {
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
    s.on('error', () => s.destroy())
  }
  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    track(client)
    const gateway = tlsConnect({ host: target.host ?? '127.0.0.1', port: target.port, servername: target.servername, ca: target.ca })
    track(gateway)
    let buffered = Buffer.alloc(0)
    let broken = false
    const observe = (chunk: Buffer): void => {
      if (broken) return
      buffered = Buffer.concat([buffered, chunk])
      // Frame: type(1) channel(2) size(4) payload(size) end(1) = 0xCE (AMQP 0-9-1 §2.3.5).
      while (buffered.length >= 7) {
        const size = buffered.readUInt32BE(3)
        if (buffered.length < 8 + size) break
        const type = buffered.readUInt8(0)
        const channel = buffered.readUInt16BE(1)
        const payload = buffered.subarray(7, 7 + size)
        if (buffered.readUInt8(7 + size) !== FRAME_END) {
          broken = true
          break
        }
        if (type === FRAME_METHOD && payload.length >= 7 && payload.readUInt16BE(0) === 10 && payload.readUInt16BE(2) === 50) {
          const replyCode = payload.readUInt16BE(4)
          const textLength = payload.readUInt8(6)
          closes.push({ at: Date.now(), channel, replyCode, replyText: payload.subarray(7, 7 + textLength).toString('utf8') })
        }
        buffered = buffered.subarray(8 + size)
      }
    }
    gateway.once('secureConnect', () => {
      gateway.on('data', observe)
      client.pipe(gateway)
      gateway.pipe(client)
    })
    client.once('close', () => gateway.destroy())
    gateway.once('close', () => client.destroy())
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve() })
  })
  return {
    port: (server.address() as { port: number }).port,
    closes,
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
