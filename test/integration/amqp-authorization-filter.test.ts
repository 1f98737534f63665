/**
 * The AMQP authorization filters between a real amqplib client and the real RabbitMQ
 * (127.0.0.1:5672, guest/guest). A tiny TCP relay in the test passes the connection handshake
 * through untouched and starts the filters once the broker's Connection.Open-Ok has gone by, as
 * the gateway's splice does; a SessionAuthorizer test double decides from an allow list.
 */
import t from 'tap'
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import { createServer, connect, type Server, type Socket } from 'node:net'
import amqplib from 'amqplib'
import type { SessionAuthorizer } from '../../src/authorization/session-authorizer'
import { amqpSessionFilters } from '../../src/protocols/amqp/authorization/filters'
import type { FilterEndCause, SessionFilters } from '../../src/proxy/stream-filter'
import { DEFAULT_PORTS, serviceAvailable } from '../helpers/services'

const BROKER = { host: '127.0.0.1', port: DEFAULT_PORTS.rabbitmq }

class ListAuthorizer implements SessionAuthorizer {
  private readonly listeners = new Set<() => void>()
  constructor(private allowed: Set<string>) {}
  mqttTopic(): boolean {
    return false
  }
  amqp(action: string, kind: string, name: string): boolean {
    return this.allowed.has(`${action} ${kind}/${name}`)
  }
  onChange(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
  change(allowed: readonly string[]): void {
    this.allowed = new Set(allowed)
    for (const listener of this.listeners) listener()
  }
}

/**
 * Reads the handshake's frames (AMQP 0-9-1 §4.2.3) as they pass, to find Tune-Ok's frame-max and
 * the end of Open-Ok. Only for the few handshake frames: the filters take over after them.
 */
class HandshakeWatch {
  private pending = Buffer.alloc(0)
  private headerLeft: number

  constructor(protocolHeader: boolean) {
    this.headerLeft = protocolHeader ? 8 : 0
  }

  /** Offset just after the frame `cls.mth` if it ends in `chunk`, else -1; calls `seen` per method. */
  feed(chunk: Buffer, until: string, seen: (id: string, payload: Buffer) => void = () => {}): number {
    const skip = Math.min(this.headerLeft, chunk.length)
    this.headerLeft -= skip
    const start = this.pending.length
    let buf = Buffer.concat([this.pending, chunk.subarray(skip)])
    let consumed = 0
    while (buf.length >= 7) {
      const size = buf.readUInt32BE(3)
      if (buf.length < size + 8) break
      consumed += size + 8
      if (buf[0] === 1) {
        const payload = buf.subarray(7, 7 + size)
        const id = `${payload.readUInt16BE(0)}.${payload.readUInt16BE(2)}`
        seen(id, payload)
        if (id === until) {
          this.pending = Buffer.alloc(0)
          return skip + consumed - start
        }
      }
      buf = buf.subarray(size + 8)
    }
    this.pending = Buffer.from(buf)
    return -1
  }
}

interface Relay {
  port: number
  ends: FilterEndCause[]
  close(): Promise<void>
}

async function startRelay(authorizer: SessionAuthorizer): Promise<Relay> {
  const sockets = new Set<Socket>()
  const ends: FilterEndCause[] = []
  const filtersOf: SessionFilters[] = []
  const server: Server = createServer((client) => {
    const broker = connect(BROKER)
    for (const s of [client, broker]) {
      sockets.add(s)
      s.on('error', () => s.destroy())
      s.once('close', () => sockets.delete(s))
    }
    client.once('close', () => broker.destroy())
    broker.once('close', () => client.destroy())
    let frameMax = 0
    let filters: SessionFilters | undefined
    const up = new HandshakeWatch(true)
    const down = new HandshakeWatch(false)
    const pumpUp = (chunk: Buffer): void => {
      if (!filters!.upstream.push(chunk)) {
        client.pause()
        broker.once('drain', () => client.resume())
      }
    }
    const pumpDown = (chunk: Buffer): void => {
      if (!filters!.downstream.push(chunk)) {
        broker.pause()
        client.once('drain', () => broker.resume())
      }
    }
    client.on('data', (chunk: Buffer) => {
      if (filters !== undefined) return pumpUp(chunk)
      // The client sends nothing after Open until Open-Ok: a handshake chunk is passed whole.
      up.feed(chunk, '10.40', (id, payload) => { if (id === '10.31') frameMax = payload.readUInt32BE(6) })
      broker.write(chunk)
    })
    broker.on('data', (chunk: Buffer) => {
      if (filters !== undefined) return pumpDown(chunk)
      const end = down.feed(chunk, '10.41')
      if (end < 0) {
        client.write(chunk)
        return
      }
      client.write(chunk.subarray(0, end))
      filters = amqpSessionFilters({
        io: {
          client, upstream: broker, authorizer,
          end: (cause) => { ends.push(cause); client.destroy(); broker.destroy() },
          maxInspectBytes: 65536,
          maxInjectedBacklogBytes: 1 << 20,
        },
        frameMax,
      })
      filtersOf.push(filters)
      client.once('close', () => filters?.close())
      if (end < chunk.length) pumpDown(chunk.subarray(end))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as { port: number }).port,
    ends,
    async close() {
      for (const f of filtersOf) f.close()
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

t.test('the AMQP authorization filters between amqplib and RabbitMQ', async (t) => {
  if (!(await serviceAvailable(t, 'rabbitmq', BROKER.port))) return
  const id = randomBytes(4).toString('hex')
  const queue = `portcullis-az-${id}-q`
  const revoked = `portcullis-az-${id}-revoked`
  const deniedExchange = `portcullis-az-${id}-denied`
  const policy = [
    `amqp:Declare queue/${queue}`, `amqp:Declare queue/${revoked}`,
    `amqp:Consume queue/${queue}`, `amqp:Consume queue/${revoked}`,
    'amqp:Publish exchange/',
  ]
  const az = new ListAuthorizer(new Set(policy))
  const relay = await startRelay(az)
  const direct = await amqplib.connect(`amqp://guest:guest@${BROKER.host}:${BROKER.port}`)
  const conn = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${relay.port}`)
  const connErrors: unknown[] = []
  conn.on('error', (err) => connErrors.push(err))
  t.teardown(async () => {
    await conn.close().catch(() => undefined)
    const cleanup = await direct.createChannel()
    await cleanup.deleteQueue(queue).catch(() => undefined)
    await cleanup.deleteQueue(revoked).catch(() => undefined)
    await direct.close().catch(() => undefined)
    await relay.close()
  })

  const numberOf = (ch: amqplib.Channel): number => (ch as unknown as { ch: number }).ch
  let refusedChannel = 0

  t.test('a denied publish closes only its channel, 403 with the action named', async (t) => {
    const ch = await conn.createChannel()
    refusedChannel = numberOf(ch)
    const error = once(ch, 'error')
    const closed = new Promise((resolve) => ch.once('close', resolve))
    // The exchange does not exist: had the publish reached RabbitMQ, it would answer 404.
    ch.publish(deniedExchange, 'rk', Buffer.from('not for you'))
    const [err] = (await error) as [Error & { code: number; classId: number; methodId: number }]
    t.equal(err.code, 403)
    t.match(err.message, 'ACCESS_REFUSED - NOT_AUTHORIZED amqp:Publish')
    t.equal(err.classId, 60, 'class basic')
    t.equal(err.methodId, 40, 'method publish')
    await closed
    t.same(connErrors, [], 'the connection is not closed')
  })

  t.test('the connection stays usable: a new channel publishes and consumes on an allowed queue', async (t) => {
    const ch = await conn.createChannel()
    t.equal(numberOf(ch), refusedChannel, 'amqplib reopens the refused channel number, and the broker takes it')
    await ch.assertQueue(queue, { durable: false, autoDelete: false })
    const got = new Promise<string>((resolve) => {
      void ch.consume(queue, (m) => { if (m) resolve(m.content.toString()) }, { noAck: true })
    })
    ch.sendToQueue(queue, Buffer.from('hello through the filters'))
    t.equal(await got, 'hello through the filters')
    await ch.close()
  })

  t.test('a consumer closed by a policy change stops receiving', async (t) => {
    const ch = await conn.createChannel()
    await ch.assertQueue(revoked, { durable: false, autoDelete: false })
    const received: string[] = []
    await ch.consume(revoked, (m) => { if (m) received.push(m.content.toString()) }, { noAck: true })
    const publisher = await direct.createChannel()
    publisher.sendToQueue(revoked, Buffer.from('before'))
    await until('the first delivery', () => received.length === 1)

    const error = once(ch, 'error')
    az.change(policy.filter((p) => p !== `amqp:Consume queue/${revoked}`))
    const [err] = (await error) as [Error & { code: number; classId: number; methodId: number }]
    t.equal(err.code, 403)
    t.match(err.message, 'ACCESS_REFUSED - NOT_AUTHORIZED amqp:Consume')
    t.equal(err.classId, 60)
    t.equal(err.methodId, 20, 'as a refused Basic.Consume')

    // RabbitMQ forgot the consumer: what is published now stays in the queue.
    await until('the consumer to be gone at the broker', async () => (await publisher.checkQueue(revoked)).consumerCount === 0)
    publisher.sendToQueue(revoked, Buffer.from('after'))
    await until('the message to be queued', async () => (await publisher.checkQueue(revoked)).messageCount === 1)
    await new Promise((r) => setTimeout(r, 200))
    t.same(received, ['before'], 'nothing delivered after the revocation')

    // The rest of the session is untouched.
    const other = await conn.createChannel()
    const got = new Promise<string>((resolve) => {
      void other.consume(queue, (m) => { if (m) resolve(m.content.toString()) }, { noAck: true })
    })
    publisher.sendToQueue(queue, Buffer.from('still here'))
    t.equal(await got, 'still here')
    t.same(connErrors, [])
    t.same(relay.ends, [], 'the filters never ended the session')
    await publisher.close()
  })
})
