/**
 * Stage tests of the AMQP 0-9-1 authorization filters (src/protocols/amqp/authorization/) over
 * in-memory socket pairs: the filters between a "client" and a "broker" socket, a SessionAuthorizer
 * test double deciding from an allow list, and the bytes each side receives read back as frames.
 */
import t from 'tap'
import { Writable } from 'node:stream'
import { isDeepStrictEqual } from 'node:util'
import type { Socket } from 'node:net'
import fc from 'fast-check'
import type { SessionAuthorizer } from '../../src/authorization/session-authorizer'
import { FrameReader, encodeFrame } from '../../src/protocols/amqp/frame-codec'
import type { AmqpFrame, FrameType } from '../../src/protocols/amqp/frame-codec'
import { amqpSessionFilters } from '../../src/protocols/amqp/authorization/filters'
import { MAX_CONSUMERS } from '../../src/protocols/amqp/authorization/consumers'
import type { FilterEndCause, FilterIo, SessionFilters } from '../../src/proxy/stream-filter'
import { socketPair, splitAt } from '../helpers/socket-pair'
import type { Test } from '../helpers/services'

// ---- frames, as a client library and RabbitMQ write them (AMQP 0-9-1 XML) ----

const u8 = (n: number): Buffer => Buffer.from([n])
const u16 = (n: number): Buffer => { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b }
const u32 = (n: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b }
const u64 = (n: number): Buffer => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b }
const ss = (s: string): Buffer => Buffer.concat([u8(Buffer.byteLength(s)), Buffer.from(s)])
const noTable = u32(0)

const method = (ch: number, cls: number, mth: number, ...args: Buffer[]): Buffer =>
  encodeFrame(1, ch, Buffer.concat([u16(cls), u16(mth), ...args]))
const F = {
  channelOpen: (ch: number) => method(ch, 20, 10, ss('')),
  channelOpenOk: (ch: number) => method(ch, 20, 11, u32(0)),
  channelClose: (ch: number, code = 200, text = 'bye', cls = 0, mth = 0) => method(ch, 20, 40, u16(code), ss(text), u16(cls), u16(mth)),
  channelCloseOk: (ch: number) => method(ch, 20, 41),
  publish: (ch: number, exchange: string, rk = 'rk') => method(ch, 60, 40, u16(0), ss(exchange), ss(rk), u8(0)),
  header: (ch: number, bodySize: number) => encodeFrame(2, ch, Buffer.concat([u16(60), u16(0), u64(bodySize), u16(0)])),
  body: (ch: number, bytes: Buffer) => encodeFrame(3, ch, bytes),
  consume: (ch: number, queue: string, tag = '', noWait = false) => method(ch, 60, 20, u16(0), ss(queue), ss(tag), u8(noWait ? 0x08 : 0), noTable),
  consumeOk: (ch: number, tag: string) => method(ch, 60, 21, ss(tag)),
  cancel: (ch: number, tag: string) => method(ch, 60, 30, ss(tag), u8(0)),
  cancelOk: (ch: number, tag: string) => method(ch, 60, 31, ss(tag)),
  deliver: (ch: number, tag: string) => method(ch, 60, 60, ss(tag), u64(1), u8(0), ss('ex'), ss('rk')),
  get: (ch: number, queue: string) => method(ch, 60, 70, u16(0), ss(queue), u8(0)),
  queueDeclare: (ch: number, queue: string) => method(ch, 50, 10, u16(0), ss(queue), u8(0), noTable),
  queueBind: (ch: number, queue: string, exchange: string) => method(ch, 50, 20, u16(0), ss(queue), ss(exchange), ss('rk'), u8(0), noTable),
  queuePurge: (ch: number, queue: string) => method(ch, 50, 30, u16(0), ss(queue), u8(0)),
  queueDelete: (ch: number, queue: string) => method(ch, 50, 40, u16(0), ss(queue), u8(0)),
  queueUnbind: (ch: number, queue: string, exchange: string) => method(ch, 50, 50, u16(0), ss(queue), ss(exchange), ss('rk'), noTable),
  exchangeDeclare: (ch: number, exchange: string) => method(ch, 40, 10, u16(0), ss(exchange), ss('topic'), u8(0), noTable),
  exchangeDelete: (ch: number, exchange: string) => method(ch, 40, 20, u16(0), ss(exchange), u8(0)),
  exchangeBind: (ch: number, dst: string, src: string) => method(ch, 40, 30, u16(0), ss(dst), ss(src), ss('rk'), u8(0), noTable),
  exchangeUnbind: (ch: number, dst: string, src: string) => method(ch, 40, 40, u16(0), ss(dst), ss(src), ss('rk'), u8(0), noTable),
  heartbeat: () => encodeFrame(8, 0, Buffer.alloc(0)),
}

/** `2:60.40` for a method frame, `2:H` / `2:B` for content, `HB` for a heartbeat. */
function describe(frame: AmqpFrame): string {
  switch (frame.type) {
    case 1: return `${frame.channel}:${frame.payload.readUInt16BE(0)}.${frame.payload.readUInt16BE(2)}`
    case 2: return `${frame.channel}:H`
    case 3: return `${frame.channel}:B`
    default: return 'HB'
  }
}

function framesOf(bytes: Buffer): AmqpFrame[] {
  const result = new FrameReader(1 << 24).push(bytes)
  if (result.kind === 'error') throw new Error(result.error.detail)
  return [...result.frames]
}

interface Close { channel: number; code: number; text: string; classId: number; methodId: number }
function closeOf(frame: AmqpFrame): Close {
  const p = frame.payload
  const n = p.readUInt8(6)
  return { channel: frame.channel, code: p.readUInt16BE(4), text: p.subarray(7, 7 + n).toString(), classId: p.readUInt16BE(7 + n), methodId: p.readUInt16BE(9 + n) }
}

// ---- a SessionAuthorizer that decides from a list ----

class ListAuthorizer implements SessionAuthorizer {
  readonly calls: string[] = []
  private readonly listeners = new Set<() => void>()
  private allowed: Set<string>

  constructor(allowed: readonly string[]) {
    this.allowed = new Set(allowed)
  }

  mqttTopic(): boolean {
    return false
  }

  amqp(action: string, kind: string, name: string): boolean {
    const entry = `${action} ${kind}/${name}`
    this.calls.push(entry)
    return this.allowed.has(entry)
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  get listening(): number {
    return this.listeners.size
  }

  /** A policy change: new answers from now on, and every listener told. */
  change(allowed: readonly string[]): void {
    this.allowed = new Set(allowed)
    for (const listener of this.listeners) listener()
  }
}

// ---- the harness ----

interface Harness {
  filters: SessionFilters
  az: ListAuthorizer
  ends: Array<[FilterEndCause, string]>
  /** Frames the client sends (pushed as one chunk each call). */
  client(...frames: Buffer[]): boolean
  broker(...frames: Buffer[]): boolean
  /** What reached the broker / the client, as frame descriptions. */
  atBroker(): string[]
  atClient(): string[]
  brokerBytes(): Buffer
  clientBytes(): Buffer
  brokerFrames(): AmqpFrame[]
  clientFrames(): AmqpFrame[]
}

function harness(allowed: readonly string[], opts: { maxInspectBytes?: number; frameMax?: number; maxInjectedBacklogBytes?: number; clientSocket?: Socket; brokerSocket?: Socket } = {}): Harness {
  const clientPair = socketPair()
  const brokerPair = socketPair()
  clientPair.peer.resume()
  brokerPair.peer.resume()
  const az = new ListAuthorizer(allowed)
  const ends: Array<[FilterEndCause, string]> = []
  const io: FilterIo = {
    client: opts.clientSocket ?? clientPair.gateway,
    upstream: opts.brokerSocket ?? brokerPair.gateway,
    authorizer: az,
    end: (cause, detail) => { ends.push([cause, detail]) },
    maxInspectBytes: opts.maxInspectBytes ?? 65536,
    maxInjectedBacklogBytes: opts.maxInjectedBacklogBytes ?? 1 << 20,
  }
  const filters = amqpSessionFilters({ io, frameMax: opts.frameMax ?? 131072 })
  return {
    filters, az, ends,
    client: (...frames) => filters.upstream.push(Buffer.concat(frames)),
    broker: (...frames) => filters.downstream.push(Buffer.concat(frames)),
    atBroker: () => framesOf(brokerPair.written()).map(describe),
    atClient: () => framesOf(clientPair.written()).map(describe),
    brokerBytes: () => brokerPair.written(),
    clientBytes: () => clientPair.written(),
    brokerFrames: () => framesOf(brokerPair.written()),
    clientFrames: () => framesOf(clientPair.written()),
  }
}

const GATEWAY_TEXT = /Portcullis gateway/

/** Runs the broker's and the client's side of the close handshake after a denial on `ch`. */
function finishRefusal(t: Test, h: Harness, ch: number, action: string, cls: number, mth: number): void {
  const brokerClose = h.brokerFrames().filter((f) => describe(f) === `${ch}:20.40`).map(closeOf).at(-1)
  t.ok(brokerClose, 'the broker is sent Channel.Close')
  t.equal(brokerClose?.code, 200, 'reply 200')
  t.match(brokerClose?.text, GATEWAY_TEXT, 'naming the gateway')
  t.notOk(h.atClient().includes(`${ch}:20.40`), 'the client hears nothing before the broker has closed')
  h.broker(F.channelCloseOk(ch))
  t.notOk(h.atClient().includes(`${ch}:20.41`), "the broker's Close-Ok is not passed on")
  const clientClose = h.clientFrames().filter((f) => describe(f) === `${ch}:20.40`).map(closeOf).at(-1)
  t.same(clientClose, { channel: ch, code: 403, text: `ACCESS_REFUSED - NOT_AUTHORIZED ${action}`, classId: cls, methodId: mth }, 'the client is sent Close 403')
  const before = h.atBroker().length
  h.client(F.channelCloseOk(ch))
  t.equal(h.atBroker().length, before, "the client's Close-Ok answers the gateway: dropped")
}

const ALLOW_ALL = [
  'amqp:Publish exchange/x', 'amqp:Publish exchange/', 'amqp:Consume queue/q', 'amqp:Declare queue/q', 'amqp:Bind queue/q',
  'amqp:Bind exchange/x', 'amqp:Purge queue/q', 'amqp:Delete queue/q', 'amqp:Declare exchange/x', 'amqp:Delete exchange/x',
  'amqp:Bind exchange/y', 'amqp:Publish exchange/other',
]

const DECIDED: Array<{ name: string; frame: (ch: number) => Buffer; action: string; cls: number; mth: number; asks: string[] }> = [
  { name: 'Basic.Publish', frame: (ch) => F.publish(ch, 'x'), action: 'amqp:Publish', cls: 60, mth: 40, asks: ['amqp:Publish exchange/x'] },
  { name: 'Basic.Publish to the default exchange', frame: (ch) => F.publish(ch, ''), action: 'amqp:Publish', cls: 60, mth: 40, asks: ['amqp:Publish exchange/'] },
  { name: 'Basic.Consume', frame: (ch) => F.consume(ch, 'q', 'c1'), action: 'amqp:Consume', cls: 60, mth: 20, asks: ['amqp:Consume queue/q'] },
  { name: 'Basic.Get', frame: (ch) => F.get(ch, 'q'), action: 'amqp:Consume', cls: 60, mth: 70, asks: ['amqp:Consume queue/q'] },
  { name: 'Queue.Declare', frame: (ch) => F.queueDeclare(ch, 'q'), action: 'amqp:Declare', cls: 50, mth: 10, asks: ['amqp:Declare queue/q'] },
  { name: 'Queue.Bind', frame: (ch) => F.queueBind(ch, 'q', 'x'), action: 'amqp:Bind', cls: 50, mth: 20, asks: ['amqp:Bind queue/q', 'amqp:Bind exchange/x'] },
  { name: 'Queue.Unbind', frame: (ch) => F.queueUnbind(ch, 'q', 'x'), action: 'amqp:Bind', cls: 50, mth: 50, asks: ['amqp:Bind queue/q', 'amqp:Bind exchange/x'] },
  { name: 'Queue.Purge', frame: (ch) => F.queuePurge(ch, 'q'), action: 'amqp:Purge', cls: 50, mth: 30, asks: ['amqp:Purge queue/q'] },
  { name: 'Queue.Delete', frame: (ch) => F.queueDelete(ch, 'q'), action: 'amqp:Delete', cls: 50, mth: 40, asks: ['amqp:Delete queue/q'] },
  { name: 'Exchange.Declare', frame: (ch) => F.exchangeDeclare(ch, 'x'), action: 'amqp:Declare', cls: 40, mth: 10, asks: ['amqp:Declare exchange/x'] },
  { name: 'Exchange.Delete', frame: (ch) => F.exchangeDelete(ch, 'x'), action: 'amqp:Delete', cls: 40, mth: 20, asks: ['amqp:Delete exchange/x'] },
  { name: 'Exchange.Bind', frame: (ch) => F.exchangeBind(ch, 'x', 'y'), action: 'amqp:Bind', cls: 40, mth: 30, asks: ['amqp:Bind exchange/x', 'amqp:Bind exchange/y'] },
  { name: 'Exchange.Unbind', frame: (ch) => F.exchangeUnbind(ch, 'x', 'y'), action: 'amqp:Bind', cls: 40, mth: 40, asks: ['amqp:Bind exchange/x', 'amqp:Bind exchange/y'] },
]

t.test('an allowed method passes untouched, decided on the resources it names', async (t) => {
  for (const m of DECIDED) {
    const h = harness(ALLOW_ALL)
    const frame = m.frame(3)
    h.client(frame)
    t.same(h.brokerBytes(), frame, `${m.name}: the same octets reach the broker`)
    t.same(h.az.calls, m.asks, `${m.name}: decided on ${m.asks.join(' and ')}`)
    t.same(h.ends, [])
  }
})

t.test('a denied method closes its channel on both ends, the broker first, and the channel is free again', async (t) => {
  for (const m of DECIDED) {
    for (const denied of m.asks) {
      const h = harness(ALLOW_ALL.filter((a) => a !== denied))
      t.test(`${m.name} without ${denied}`, async (t) => {
        h.client(F.publish(1, 'other'), m.frame(3), F.publish(2, 'other'))
        t.same(h.atBroker(), ['1:60.40', '3:20.40', '2:60.40'], 'the denied method is dropped, the Close in its place, other channels pass')
        t.same(h.az.calls.filter((c) => c === denied).length, 1, 'decided once')
        finishRefusal(t, h, 3, m.action, m.cls, m.mth)
        h.client(F.channelOpen(3), F.publish(3, 'other'))
        t.same(h.atBroker().slice(-2), ['3:20.10', '3:60.40'], 'a new Channel.Open and what follows pass')
        t.same(h.ends, [], 'the session goes on')
      })
    }
  }
})

t.test('a chunk of allowed frames is one write of the chunk itself', async (t) => {
  const brokerPair = socketPair()
  brokerPair.peer.resume()
  const writes: unknown[] = []
  const write = brokerPair.gateway.write.bind(brokerPair.gateway)
  brokerPair.gateway.write = ((chunk: Buffer) => { writes.push(chunk); return write(chunk) }) as typeof brokerPair.gateway.write
  const h = harness(ALLOW_ALL, { brokerSocket: brokerPair.gateway })
  const chunk = Buffer.concat([F.publish(1, 'x'), F.header(1, 3), F.body(1, Buffer.from('abc')), F.heartbeat(), F.channelOpen(2), F.queueDeclare(2, 'q')])
  h.filters.upstream.push(chunk)
  t.equal(writes.length, 1, 'one write')
  t.equal(writes[0], chunk, 'of the very chunk (no copy)')
  // With a denied frame in the middle: the allowed octets around it are slices, still no copy.
  writes.length = 0
  const denied = F.publish(4, 'nope')
  const mixed = Buffer.concat([F.publish(1, 'x'), denied, F.publish(2, 'x')])
  h.filters.upstream.push(mixed)
  const [before, close, after] = writes as Buffer[]
  t.equal(writes.length, 3, 'before, the Close, after')
  t.equal(before?.buffer, mixed.buffer, 'a slice of the chunk')
  t.equal(after?.buffer, mixed.buffer, 'a slice of the chunk')
  t.same(framesOf(close as Buffer).map(describe), ['4:20.40'])
})

t.test('frames the client pipelined after a denied publish are dropped, content and all', async (t) => {
  const h = harness(['amqp:Publish exchange/x'])
  h.client(
    F.publish(1, 'nope'), F.header(1, 10), F.body(1, Buffer.alloc(6)), F.body(1, Buffer.alloc(4)),
    F.publish(1, 'x'), F.header(1, 1), F.body(1, Buffer.alloc(1)),
    F.publish(2, 'x'), F.header(2, 0),
  )
  t.same(h.atBroker(), ['1:20.40', '2:60.40', '2:H'], 'nothing more on channel 1, channel 2 untouched')
  t.same(h.az.calls, ['amqp:Publish exchange/nope', 'amqp:Publish exchange/x'], 'the dropped publish on channel 1 is not decided')
  h.client(F.publish(1, 'x'), F.header(1, 0))
  t.same(h.atBroker(), ['1:20.40', '2:60.40', '2:H'], 'still dropped while the broker has not closed')
  finishRefusal(t, h, 1, 'amqp:Publish', 60, 40)
})

t.test('broker frames on the channel during the close are dropped, but a delivery already begun is finished', async (t) => {
  const h = harness(['amqp:Consume queue/q', 'amqp:Publish exchange/x'])
  h.client(F.consume(1, 'q', 'c1'))
  h.broker(F.consumeOk(1, 'c1'))
  const body = F.body(1, Buffer.alloc(100, 7))
  // A delivery is half through to the client when the client's denied publish arrives.
  h.broker(F.deliver(1, 'c1'), F.header(1, 200), body.subarray(0, 50))
  t.notOk(h.filters.downstream.atBoundary, 'the client is inside a frame')
  h.client(F.publish(1, 'nope'))
  h.broker(body.subarray(50), F.body(1, Buffer.alloc(100)), F.deliver(1, 'c1'), F.header(1, 1), F.body(1, Buffer.alloc(1)), F.deliver(2, 'c2'))
  t.same(h.atClient(), ['1:60.21', '1:60.60', '1:H', '1:B', '1:B', '2:60.60'], 'the begun delivery whole, the next dropped, other channels pass')
  t.ok(h.filters.downstream.atBoundary)
  h.broker(F.channelCloseOk(1), F.deliver(1, 'late'), F.header(1, 0))
  t.same(h.atClient().slice(6), ['1:20.40'], 'after the broker closed: the 403, and nothing of the broker on that channel')
  h.client(F.channelCloseOk(1), F.channelOpen(1))
  t.same(h.atBroker().slice(-1), ['1:20.10'])
})

t.test('a client that closes the channel itself meanwhile is answered Close-Ok instead of the 403', async (t) => {
  const h = harness([])
  h.client(F.publish(5, 'nope'))
  h.client(F.channelClose(5))
  t.same(h.atBroker(), ['5:20.40'], "the client's Close is not passed on: the gateway's is")
  h.broker(F.channelCloseOk(5))
  t.same(h.atClient(), ['5:20.41'], 'Close-Ok from the gateway, no 403')
  h.client(F.channelOpen(5))
  t.same(h.atBroker(), ['5:20.40', '5:20.10'], 'the channel is free again')
})

t.test("a client Close that crosses the gateway's 403 is answered Close-Ok, and its Close-Ok still frees the channel", async (t) => {
  const h = harness([])
  h.client(F.publish(5, 'nope'))
  h.broker(F.channelCloseOk(5))
  t.same(h.atClient(), ['5:20.40'])
  h.client(F.channelClose(5))
  t.same(h.atClient(), ['5:20.40', '5:20.41'], 'the crossing Close is answered')
  t.same(h.atBroker(), ['5:20.40'], 'and not passed on')
  h.client(F.channelCloseOk(5), F.channelOpen(5))
  t.same(h.atBroker(), ['5:20.40', '5:20.10'])
})

t.test("a Close of the broker's that crosses the gateway's is answered Close-Ok, and the client still hears the 403", async (t) => {
  const h = harness(['amqp:Declare queue/q'])
  h.client(F.queueDeclare(2, 'q'), F.publish(2, 'nope'))
  h.broker(F.channelClose(2, 404, 'NOT_FOUND', 50, 10))
  t.same(h.atBroker(), ['2:50.10', '2:20.40', '2:20.41'], "the gateway answers the broker's Close")
  t.same(h.atClient(), [], "the broker's Close is not passed on")
  finishRefusal(t, h, 2, 'amqp:Publish', 60, 40)
})

t.test("a denied method on a channel the broker is closing is dropped; the client's Close-Ok passes", async (t) => {
  const h = harness(['amqp:Publish exchange/x'])
  h.broker(F.channelClose(1, 404, 'NOT_FOUND', 50, 10))
  h.client(F.publish(1, 'nope'), F.header(1, 1), F.body(1, Buffer.alloc(1)), F.publish(1, 'x'), F.header(1, 0), F.channelCloseOk(1))
  t.same(h.atBroker(), ['1:20.41'], 'no gateway Close on a closing channel; the methods that would be decided are dropped, content and all')
  t.same(h.az.calls, [], 'nothing decided on a closing channel')
  t.same(h.atClient(), ['1:20.40'], "the broker's Close passed on")
  h.client(F.publish(1, 'nope'))
  t.same(h.atBroker().slice(-1), ['1:20.40'], 'after the Close-Ok the channel is open again and decided')
})

t.test("after the client's own Close, the broker's Close-Ok frees the channel", async (t) => {
  const h = harness(['amqp:Consume queue/q'])
  h.client(F.consume(1, 'q', 'c1'), F.channelClose(1))
  h.broker(F.consumeOk(1, 'c1'), F.channelCloseOk(1))
  t.same(h.atClient(), ['1:60.21', '1:20.41'])
  h.az.change([])
  t.same(h.atBroker(), ['1:60.20', '1:20.40'], 'a closed channel forgets its consumers: no revocation')
})

t.test('a policy change closes the channel of a consumer that may no longer consume, so its deliveries stop', async (t) => {
  const h = harness(['amqp:Consume queue/q', 'amqp:Consume queue/r'])
  h.client(F.consume(1, 'q'), F.consume(1, 'r', 'mine'), F.consume(2, 'r'))
  h.broker(F.consumeOk(1, 'amq.ctag-1'), F.consumeOk(1, 'mine'), F.consumeOk(2, 'amq.ctag-2'))
  h.broker(F.deliver(1, 'amq.ctag-1'), F.header(1, 0))
  t.same(h.atClient(), ['1:60.21', '1:60.21', '2:60.21', '1:60.60', '1:H'])
  h.az.calls.length = 0
  h.az.change(['amqp:Consume queue/r'])
  t.same(h.az.calls, ['amqp:Consume queue/q', 'amqp:Consume queue/r'], 'every tracked consumer decided again (channel 1 stops at its first refusal)')
  t.same(h.atBroker().slice(-1), ['1:20.40'], 'channel 1 is closed at the broker')
  h.broker(F.deliver(1, 'amq.ctag-1'), F.header(1, 0), F.deliver(2, 'amq.ctag-2'), F.header(2, 0))
  t.same(h.atClient().slice(5), ['2:60.60', '2:H'], "channel 1's deliveries stop, channel 2's go on")
  finishRefusal(t, h, 1, 'amqp:Consume', 60, 20)
  h.az.change([])
  t.same(h.atBroker().slice(-1), ['2:20.40'], 'the remaining consumer, on channel 2, is decided on the next change')
})

t.test('consumers the client or the broker cancelled are not decided again', async (t) => {
  const h = harness(['amqp:Consume queue/q'])
  h.client(F.consume(1, 'q'), F.consume(2, 'q', 'two'))
  h.broker(F.consumeOk(1, 'amq.ctag-1'), F.consumeOk(2, 'two'))
  h.client(F.cancel(1, 'amq.ctag-1'))
  h.broker(F.cancel(2, 'two'))
  h.az.calls.length = 0
  h.az.change([])
  t.same(h.az.calls, [], 'no consumer left to decide')
  t.same(h.atBroker(), ['1:60.20', '2:60.20', '1:60.30'], 'no channel closed')
})

t.test('a revocation waits for a publish that is partly through on that channel', async (t) => {
  const h = harness(['amqp:Consume queue/q', 'amqp:Publish exchange/x'])
  h.client(F.consume(1, 'q', 'c'))
  h.client(F.publish(1, 'x'), F.header(1, 10), F.body(1, Buffer.alloc(4)))
  h.az.change(['amqp:Publish exchange/x'])
  t.same(h.atBroker(), ['1:60.20', '1:60.40', '1:H', '1:B'], 'no Close in the middle of a message')
  const last = F.body(1, Buffer.alloc(6))
  h.client(last.subarray(0, 3))
  h.client(last.subarray(3), F.publish(1, 'x'))
  t.same(h.atBroker(), ['1:60.20', '1:60.40', '1:H', '1:B', '1:B', '1:20.40'], 'the message whole, then the Close; later frames dropped')
  finishRefusal(t, h, 1, 'amqp:Consume', 60, 20)
})

t.test('close() stops listening for policy changes', async (t) => {
  const h = harness(['amqp:Consume queue/q'])
  t.equal(h.az.listening, 1)
  h.filters.close()
  h.filters.close()
  t.equal(h.az.listening, 0)
})

t.test('caps: a decided method larger than the inspect cap or frame-max ends the session PROTOCOL_ERROR', async (t) => {
  const big = F.publish(1, 'x', 'k'.repeat(200))
  const h = harness(ALLOW_ALL, { maxInspectBytes: 100 })
  t.doesNotThrow(() => h.client(big.subarray(0, 20)))
  t.equal(h.ends[0]?.[0], 'PROTOCOL_ERROR', 'from its header, before it is buffered')
  t.same(h.brokerBytes().length, 0, 'nothing reaches the broker')
  const h2 = harness(ALLOW_ALL, { frameMax: 128 })
  h2.client(big)
  t.equal(h2.ends[0]?.[0], 'PROTOCOL_ERROR', 'frame-max applies too')
  // Content is never held: a body far larger than the caps streams through.
  const h3 = harness(ALLOW_ALL, { maxInspectBytes: 100 })
  const body = F.body(1, Buffer.alloc(300_000, 1))
  h3.client(F.publish(1, 'x'), F.header(1, 300_000), body.subarray(0, 1000))
  h3.client(body.subarray(1000))
  t.same(h3.ends, [])
  t.equal(h3.brokerBytes().length, F.publish(1, 'x').length + F.header(1, 0).length + body.length)
})

t.test('a bad frame-end octet or an unknown frame type ends the session PROTOCOL_ERROR, without throwing', async (t) => {
  const bad = Buffer.from(F.heartbeat())
  bad[7] = 0x00
  for (const [name, bytes, side] of [
    ['bad frame-end from the client', bad, 'client'],
    ['bad frame-end of a decided method', Buffer.concat([F.publish(1, 'x').subarray(0, -1), Buffer.from([0xcf])]), 'client'],
    ['unknown frame type from the client', encodeFrame(9 as FrameType, 1, Buffer.alloc(2)), 'client'],
    ['bad frame-end from the broker', Buffer.concat([F.deliver(1, 'c').subarray(0, -1), Buffer.from([0])]), 'broker'],
    ['unknown frame type from the broker', encodeFrame(0 as FrameType, 1, Buffer.alloc(2)), 'broker'],
    ['a method frame too short for its ids', encodeFrame(1, 1, Buffer.alloc(2)), 'client'],
  ] as const) {
    const h = harness(ALLOW_ALL)
    t.doesNotThrow(() => (side === 'client' ? h.client(bytes, F.heartbeat()) : h.broker(bytes, F.heartbeat())), name)
    t.equal(h.ends[0]?.[0], 'PROTOCOL_ERROR', name)
    t.equal(h.ends.length, 1, `${name}: ended once`)
    h.client(F.publish(1, 'x'))
    t.same(h.az.calls.length, 0, `${name}: nothing decided after the end`)
  }
})

t.test('more consumers than the cap end the session rather than go untracked', async (t) => {
  const h = harness(['amqp:Consume queue/q'])
  const frames: Buffer[] = []
  for (let i = 0; i <= MAX_CONSUMERS; i++) frames.push(F.consume(1 + (i % 100), 'q', `c${i}`, true))
  h.client(...frames)
  t.equal(h.ends[0]?.[0], 'PROTOCOL_ERROR')
  t.match(h.ends[0]?.[1], /consumers/)
})

t.test('push() answers false while the destination is full, true once it drains', async (t) => {
  const pending: Array<() => void> = []
  let reading = false
  const sink = new Writable({ highWaterMark: 64, write(_c, _e, done) { if (reading) done(); else pending.push(done) } })
  const h = harness(ALLOW_ALL, { brokerSocket: sink as unknown as Socket })
  t.equal(h.client(F.publish(1, 'x')), true, 'room left')
  t.equal(h.client(F.publish(1, 'x', 'k'.repeat(80))), false, 'the write that filled it')
  t.equal(h.client(F.publish(1, 'nope')), false, 'a push that wrote nothing still says full')
  reading = true
  for (const done of pending.splice(0)) done()
  await new Promise((r) => setImmediate(r))
  t.equal(h.client(F.heartbeat()), true, 'after drain')
})

t.test("the gateway's frames the client does not read end the session SLOW_CONSUMER", async (t) => {
  const sink = new Writable({ highWaterMark: 16, write() { /* never completes: a client that reads nothing */ } })
  const h = harness([], { clientSocket: sink as unknown as Socket, maxInjectedBacklogBytes: 100 })
  h.client(F.publish(1, 'nope'))
  h.broker(F.channelCloseOk(1))
  t.same(h.ends, [], 'one Close is within the cap')
  h.client(F.publish(2, 'nope'))
  h.broker(F.channelCloseOk(2))
  t.equal(h.ends[0]?.[0], 'SLOW_CONSUMER')
})

t.test('downstream: where the client stream stands, for a goodbye between frames', async (t) => {
  const h = harness([])
  const d = h.filters.downstream
  t.ok(d.atBoundary)
  t.equal(d.framesStarted, 0)
  const body = F.body(1, Buffer.alloc(40, 9))
  h.broker(F.deliver(1, 't'), F.header(1, 40), body.subarray(0, 10))
  t.notOk(d.atBoundary, 'inside a body frame')
  t.equal(d.framesStarted, 3)
  d.inject(F.channelClose(0, 320, 'kick'))
  t.same(h.atClient().length, 2, 'an injection waits for the frame to end')
  const rest = Buffer.concat([body.subarray(10), F.deliver(1, 't')])
  const used = d.untilBoundary(rest)
  t.equal(used, body.length - 10, 'consumed up to the end of the frame')
  t.ok(d.atBoundary)
  t.same(h.atClient(), ['1:60.60', '1:H', '1:B', '0:20.40'], 'the frame finished, then the injection')
  t.equal(d.framesStarted, 4)
  t.equal(d.untilBoundary(F.deliver(1, 't')), 0, 'at a boundary already: nothing to consume')
  // A frame being dropped does not hold the client's stream inside a frame.
  h.client(F.publish(2, 'nope'))
  h.broker(F.deliver(2, 't').subarray(0, 9))
  t.ok(d.atBoundary, 'a dropped frame is not the client being inside one')
})

t.test('a frame head split across chunks is decided once whole', async (t) => {
  const h = harness(['amqp:Publish exchange/x', 'amqp:Consume queue/q'])
  const bytes = Buffer.concat([F.consume(1, 'q'), F.publish(1, 'x'), F.header(1, 5), F.body(1, Buffer.from('hello')), F.publish(1, 'nope'), F.header(1, 1), F.body(1, Buffer.from('x'))])
  for (let i = 0; i < bytes.length; i++) h.client(bytes.subarray(i, i + 1))
  t.same(h.atBroker(), ['1:60.20', '1:60.40', '1:H', '1:B', '1:20.40'], 'octet by octet')
  t.same(h.az.calls, ['amqp:Consume queue/q', 'amqp:Publish exchange/x', 'amqp:Publish exchange/nope'])
})

// ---- chunking: the output does not depend on how the input was cut ----

type Step =
  | { side: 'client' | 'broker'; frames: Buffer[] }
  | { side: 'change'; allowed: string[] }

const channelArb = fc.integer({ min: 1, max: 3 })
const exchangeArb = fc.constantFrom('x', 'nope')
const bodyArb = fc.integer({ min: 0, max: 40 })
const clientFrames = fc.oneof(
  fc.tuple(channelArb, exchangeArb, bodyArb, fc.integer({ min: 1, max: 3 })).map(([ch, ex, size, parts]) => {
    const frames = [F.publish(ch, ex), F.header(ch, size)]
    const body = Buffer.alloc(size, ch)
    const cuts = splitAt(body, [Math.floor(size / parts), Math.floor((2 * size) / parts)])
    for (const part of cuts) frames.push(F.body(ch, part))
    return frames
  }),
  fc.tuple(channelArb, fc.constantFrom('q', 'r'), fc.constantFrom('', 't1')).map(([ch, q, tag]) => [F.consume(ch, q, tag)]),
  channelArb.map((ch) => [F.channelCloseOk(ch)]),
  channelArb.map((ch) => [F.channelClose(ch)]),
  channelArb.map((ch) => [F.channelOpen(ch)]),
  fc.tuple(channelArb, fc.constantFrom('q', 'r')).map(([ch, q]) => [F.queueBind(ch, q, 'x')]),
  fc.constant([F.heartbeat()]),
)
const brokerFrames = fc.oneof(
  channelArb.map((ch) => [F.channelCloseOk(ch)]),
  fc.tuple(channelArb, fc.constantFrom('amq.ctag-1', 't1')).map(([ch, tag]) => [F.consumeOk(ch, tag)]),
  fc.tuple(channelArb, bodyArb).map(([ch, size]) => [F.deliver(ch, 't1'), F.header(ch, size), F.body(ch, Buffer.alloc(size, 0xab))]),
  channelArb.map((ch) => [F.channelClose(ch, 404, 'NOT_FOUND', 50, 10)]),
  fc.tuple(channelArb, fc.constantFrom('amq.ctag-1', 't1')).map(([ch, tag]) => [F.cancel(ch, tag)]),
)
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.array(clientFrames, { minLength: 1, maxLength: 3 }).map((fs) => ({ side: 'client' as const, frames: fs.flat() })) },
  { weight: 4, arbitrary: fc.array(brokerFrames, { minLength: 1, maxLength: 3 }).map((fs) => ({ side: 'broker' as const, frames: fs.flat() })) },
  { weight: 1, arbitrary: fc.subarray(['amqp:Publish exchange/x', 'amqp:Consume queue/q', 'amqp:Consume queue/r', 'amqp:Bind queue/q', 'amqp:Bind exchange/x']).map((allowed) => ({ side: 'change' as const, allowed })) },
)
const INITIAL = ['amqp:Publish exchange/x', 'amqp:Consume queue/q', 'amqp:Consume queue/r', 'amqp:Bind queue/q', 'amqp:Bind exchange/x']

/** Plays the steps; each side's octets of a step pushed cut at `cuts` (none: one chunk). */
function play(steps: readonly Step[], cuts: readonly number[] | 'octets'): { broker: Buffer; client: Buffer; ends: string[]; calls: string[] } {
  const h = harness(INITIAL, { maxInspectBytes: 4096 })
  for (const step of steps) {
    if (step.side === 'change') {
      h.az.change(step.allowed)
      continue
    }
    const bytes = Buffer.concat(step.frames)
    const chunks = cuts === 'octets' ? [...bytes].map((b) => Buffer.from([b])) : splitAt(bytes, cuts)
    for (const chunk of chunks) {
      if (step.side === 'client') h.filters.upstream.push(chunk)
      else h.filters.downstream.push(chunk)
    }
  }
  return { broker: h.brokerBytes(), client: h.clientBytes(), ends: h.ends.map(([c]) => c), calls: h.az.calls }
}

t.test('any chunking of either stream gives the same output (fast-check)', async (t) => {
  fc.assert(
    fc.property(fc.array(stepArb, { minLength: 1, maxLength: 25 }), fc.array(fc.nat(), { maxLength: 12 }), (steps, cuts) => {
      const whole = play(steps, [])
      return isDeepStrictEqual(play(steps, cuts), whole) && isDeepStrictEqual(play(steps, 'octets'), whole)
    }),
    { numRuns: 200 },
  )
  t.pass('the same octets to each side, the same decisions, the same ends')
})

t.test('with everything allowed, both streams pass octet for octet, however cut (fast-check)', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.oneof(clientFrames, brokerFrames), { minLength: 1, maxLength: 20 }), fc.array(fc.nat(), { maxLength: 12 }), (frames, cuts) => {
      const bytes = Buffer.concat(frames.flat().filter((f) => f.readUInt16BE(1) === 0 || f[0] !== 1 || f.readUInt16BE(7) !== 20 || f.readUInt16BE(9) !== 40))
      const h = harness(['amqp:Publish exchange/x', 'amqp:Publish exchange/nope', 'amqp:Consume queue/q', 'amqp:Consume queue/r', 'amqp:Bind queue/q', 'amqp:Bind queue/r', 'amqp:Bind exchange/x'])
      for (const chunk of splitAt(bytes, cuts)) h.filters.upstream.push(chunk)
      return Buffer.compare(h.brokerBytes(), bytes) === 0 && h.ends.length === 0
    }),
    { numRuns: 200 },
  )
  t.pass('identity')
})
