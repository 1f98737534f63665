import { setImmediate as nextTurn } from 'node:timers/promises'
import { AmqpSession } from './amqp-session'
import * as amqpWire from './amqp-wire'
import { MqttSession } from './mqtt-session'
import * as mqttWire from './mqtt-wire'
import { CLIENT_ID_PREFIX } from './names'
import type { AmqpAuth, LoadSocket, Target } from './target'

/**
 * Publish → subscribe throughput. The receiving side (one MQTT subscriber or one AMQP consumer)
 * and the publishers live in different worker processes; both only count. Publishers write one
 * pre-encoded chunk of many messages per write and wait for 'drain' when the socket is full, so
 * the proxy's backpressure, not the generator, sets the pace.
 */
export interface Received {
  messages: number
  bytes: number
  /** Date.now() of the last chunk received. */
  lastAt: number
}

interface Counting {
  count(): number
  bytes(): number
  close(): void
}

let receiver: Counting | undefined
let lastAt = 0

export async function openReceiver(a: { protocol: 'mqtt' | 'amqp'; target: Target; topic: string; auth?: AmqpAuth }): Promise<void> {
  closeReceiver()
  if (a.protocol === 'mqtt') {
    const session = await MqttSession.open(a.target, new mqttWire.ConnectTemplate(CLIENT_ID_PREFIX.subscriber).encode(process.pid))
    await session.subscribe(a.topic)
    session.socket.on('data', () => { lastAt = Date.now() })
    receiver = { count: () => session.scanner.publishes, bytes: () => session.scanner.bytes, close: () => session.close() }
  } else {
    if (a.auth === undefined) throw new Error('AMQP needs credentials')
    const session = await AmqpSession.open(a.target, a.auth)
    await session.openChannel()
    await session.consume(a.topic)
    session.socket.on('data', () => { lastAt = Date.now() })
    receiver = { count: () => session.scanner.deliveries, bytes: () => session.scanner.bytes, close: () => session.close() }
  }
}

export function received(): Received {
  return { messages: receiver?.count() ?? 0, bytes: receiver?.bytes() ?? 0, lastAt }
}

export function closeReceiver(): void {
  receiver?.close()
  receiver = undefined
}

interface Publisher {
  socket: LoadSocket
  chunk: Buffer
  messages: number
  close(): void
}

let publishers: Publisher[] = []

export async function openPublishers(a: {
  protocol: 'mqtt' | 'amqp'
  target: Target
  topic: string
  count: number
  payloadBytes: number
  auth?: AmqpAuth
}): Promise<void> {
  closePublishers()
  for (let i = 0; i < a.count; i++) {
    if (a.protocol === 'mqtt') {
      const session = await MqttSession.open(a.target, new mqttWire.ConnectTemplate(CLIENT_ID_PREFIX.publisher).encode(process.pid * 100 + i))
      const { chunk, messages } = mqttWire.publishChunk(a.topic, a.payloadBytes)
      publishers.push({ socket: session.socket, chunk, messages, close: () => session.close() })
    } else {
      if (a.auth === undefined) throw new Error('AMQP needs credentials')
      const session = await AmqpSession.open(a.target, a.auth)
      await session.openChannel()
      const { chunk, messages } = amqpWire.publishChunk(a.topic, a.payloadBytes)
      publishers.push({ socket: session.socket, chunk, messages, close: () => session.close() })
    }
  }
}

export interface Published {
  messages: number
  startedAt: number
  endedAt: number
}

/** Every publisher writes as fast as its socket drains until the window closes. */
export async function publish(a: { durationMs: number }): Promise<Published> {
  const startedAt = Date.now()
  const end = startedAt + a.durationMs
  const counts = await Promise.all(publishers.map(async (p) => {
    let sent = 0
    while (Date.now() < end && !p.socket.destroyed) {
      const room = p.socket.write(p.chunk)
      sent += p.messages
      if (room) await nextTurn()
      else await drainOrDeadline(p.socket, end)
    }
    return sent
  }))
  return { messages: counts.reduce((a, b) => a + b, 0), startedAt, endedAt: Date.now() }
}

function drainOrDeadline(socket: LoadSocket, end: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      socket.off('drain', done)
      socket.off('close', done)
      resolve()
    }
    const timer = setTimeout(done, Math.max(0, end - Date.now()))
    socket.once('drain', done)
    socket.once('close', done)
  })
}

export function closePublishers(): void {
  for (const p of publishers) p.close()
  publishers = []
}
