/**
 * Compatibility of the AMQP codecs with a real RabbitMQ (127.0.0.1:5672, guest/guest): the whole
 * connection handshake of §2.2.4 spoken with our own encoders and decoders.
 */
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import t from 'tap'
import { bool, encodeFieldTableBody, fieldBoolean, fieldTable, fieldText, longstr, table } from '../../src/protocols/amqp/field-table'
import { FRAME_TYPES, FrameReader, PROTOCOL_HEADER, parseProtocolHeader } from '../../src/protocols/amqp/frame-codec'
import type { AmqpFrame } from '../../src/protocols/amqp/frame-codec'
import { decodeMethod, encodeMethodFrame } from '../../src/protocols/amqp/methods'
import type { ConnectionMethod } from '../../src/protocols/amqp/methods'
import { DEFAULT_PORTS, serviceAvailable } from '../helpers/services'

const HOST = '127.0.0.1'
const PORT = DEFAULT_PORTS.rabbitmq
const TIMEOUT_MS = 5000

/** A socket to RabbitMQ read through FrameReader, one decoded method at a time. */
class Peer {
  private readonly reader = new FrameReader()
  private readonly frames: AmqpFrame[] = []
  private readonly raw: Buffer[] = []
  private waiter: (() => void) | undefined
  private closed = false

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.raw.push(chunk)
      const result = this.reader.push(chunk)
      this.frames.push(...result.frames)
      if (result.kind === 'error') socket.destroy(new Error(result.error.detail))
      this.waiter?.()
    })
    socket.on('close', () => {
      this.closed = true
      this.waiter?.()
    })
    socket.on('error', () => undefined)
  }

  static open(): Promise<Peer> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: HOST, port: PORT }, () => resolve(new Peer(socket)))
      socket.once('error', reject)
    })
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes)
  }

  setMaxFrameSize(size: number): void {
    this.reader.setMaxFrameSize(size)
  }

  async method(): Promise<ConnectionMethod> {
    for (;;) {
      const frame = await this.frame()
      if (frame.type === FRAME_TYPES.HEARTBEAT) continue
      const decoded = decodeMethod(frame.payload)
      if (!decoded.ok) throw new Error(decoded.detail)
      if (decoded.method.name === 'other') throw new Error(`unexpected method ${decoded.method.classId},${decoded.method.methodId}`)
      return decoded.method
    }
  }

  /** Everything the server sent, for tests that read raw bytes (the protocol header reply). */
  async rawUntilClosed(): Promise<Buffer> {
    await this.until(() => this.closed)
    return Buffer.concat(this.raw)
  }

  private async frame(): Promise<AmqpFrame> {
    await this.until(() => this.frames.length > 0 || this.closed)
    const frame = this.frames.shift()
    if (!frame) throw new Error('connection closed before the expected frame')
    return frame
  }

  private until(done: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for RabbitMQ')), TIMEOUT_MS)
      const check = (): void => {
        if (!done()) return
        clearTimeout(timer)
        this.waiter = undefined
        resolve()
      }
      this.waiter = check
      check()
    })
  }
}

function expectMethod<N extends ConnectionMethod['name']>(m: ConnectionMethod, name: N): Extract<ConnectionMethod, { name: N }> {
  if (m.name !== name) throw new Error(`expected ${name}, got ${m.name}${m.name === 'connection.close' ? ` ${m.replyCode} ${m.replyText}` : ''}`)
  return m as Extract<ConnectionMethod, { name: N }>
}

const CLIENT_PROPERTIES = new Map([
  ['product', longstr('portcullis-codec-test')],
  ['capabilities', table([['authentication_failure_close', bool(true)]])],
])

t.test('speaks the connection handshake with a real RabbitMQ', async (t) => {
  if (!(await serviceAvailable(t, 'rabbitmq', PORT))) return
  const peer = await Peer.open()
  t.teardown(() => peer.socket.destroy())
  peer.send(PROTOCOL_HEADER)

  const start = expectMethod(await peer.method(), 'connection.start')
  t.equal(start.versionMajor, 0)
  t.equal(start.versionMinor, 9)
  t.ok(start.mechanisms.split(' ').includes('PLAIN'), `mechanisms "${start.mechanisms}" include PLAIN`)
  t.ok(start.mechanisms.split(' ').includes('AMQPLAIN'), 'and AMQPLAIN')
  t.match(start.locales, /en_US/)
  const serverProperties = start.serverProperties ?? new Map()
  t.equal(fieldText(serverProperties, 'product'), 'RabbitMQ')
  t.type(fieldText(serverProperties, 'version'), 'string')
  const capabilities = fieldTable(serverProperties, 'capabilities')
  t.ok(capabilities, 'server-properties has a nested capabilities table')
  t.equal(fieldBoolean(capabilities ?? new Map(), 'publisher_confirms'), true)

  peer.send(
    encodeMethodFrame({
      name: 'connection.start-ok',
      clientProperties: CLIENT_PROPERTIES,
      mechanism: 'PLAIN',
      response: Buffer.from('\0guest\0guest'),
      locale: 'en_US',
    }),
  )
  const tune = expectMethod(await peer.method(), 'connection.tune')
  t.ok(tune.frameMax >= 4096, `frame-max ${tune.frameMax}`)
  t.ok(tune.channelMax > 0, `channel-max ${tune.channelMax}`)
  peer.send(encodeMethodFrame({ name: 'connection.tune-ok', channelMax: tune.channelMax, frameMax: tune.frameMax, heartbeat: 0 }))
  peer.setMaxFrameSize(tune.frameMax)

  peer.send(encodeMethodFrame({ name: 'connection.open', virtualHost: '/', capabilities: '', insist: false }))
  expectMethod(await peer.method(), 'connection.open-ok')

  peer.send(encodeMethodFrame({ name: 'connection.close', replyCode: 200, replyText: 'bye', classId: 0, methodId: 0 }))
  expectMethod(await peer.method(), 'connection.close-ok')
})

t.test('AMQPLAIN credentials are accepted by a real RabbitMQ', async (t) => {
  if (!(await serviceAvailable(t, 'rabbitmq', PORT))) return
  const peer = await Peer.open()
  t.teardown(() => peer.socket.destroy())
  peer.send(PROTOCOL_HEADER)
  expectMethod(await peer.method(), 'connection.start')
  const response = encodeFieldTableBody(new Map([['LOGIN', longstr('guest')], ['PASSWORD', longstr('guest')]]))
  peer.send(encodeMethodFrame({ name: 'connection.start-ok', clientProperties: CLIENT_PROPERTIES, mechanism: 'AMQPLAIN', response, locale: 'en_US' }))
  const tune = expectMethod(await peer.method(), 'connection.tune')
  t.ok(tune.frameMax >= 4096)
})

t.test('a real RabbitMQ refuses a bad password with Connection.Close 403', async (t) => {
  if (!(await serviceAvailable(t, 'rabbitmq', PORT))) return
  const peer = await Peer.open()
  t.teardown(() => peer.socket.destroy())
  peer.send(PROTOCOL_HEADER)
  expectMethod(await peer.method(), 'connection.start')
  peer.send(
    encodeMethodFrame({
      name: 'connection.start-ok',
      clientProperties: CLIENT_PROPERTIES, // authentication_failure_close: a Close instead of a bare TCP close
      mechanism: 'PLAIN',
      response: Buffer.from('\0guest\0wrong-password'),
      locale: 'en_US',
    }),
  )
  const close = expectMethod(await peer.method(), 'connection.close')
  t.equal(close.replyCode, 403)
  t.match(close.replyText, /^ACCESS_REFUSED/)
})

t.test('a real RabbitMQ answers a wrong protocol header with the 0-9-1 header (§4.2.2)', async (t) => {
  if (!(await serviceAvailable(t, 'rabbitmq', PORT))) return
  const peer = await Peer.open()
  t.teardown(() => peer.socket.destroy())
  peer.send(Buffer.from('GARBAGE!', 'latin1'))
  const reply = await peer.rawUntilClosed()
  t.equal(parseProtocolHeader(reply).kind, 'ok', `reply ${reply.toString('hex')} is the header we expect`)
})
