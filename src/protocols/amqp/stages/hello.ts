import { parseProtocolHeader, type ProtocolHeaderResult } from '../frame-codec'
import { encodeMethodFrame, parseAmqplainResponse, parsePlainResponse } from '../methods'
import { bool, longstr, table } from '../field-table'
import type { PipelineDeps } from '../../../proxy/deps'
import type { Secured } from '../../../proxy/lifecycle/context'
import { readFrom } from '../../../proxy/read-client'
import { next, reject, type Step } from '../../../proxy/verdict'
import { HandshakeFrames } from '../handshake-frames'
import { amqpClose, closeFor } from '../close-frame'
import type { Greeted } from '../phases'

/**
 * AMQP 0-9-1 §2.2.4, the first half of the connection negotiation, spoken by the gateway itself:
 * protocol header (a wrong one is answered with ours, then closed, §4.2.2), Connection.Start,
 * Connection.Start-Ok with PLAIN or AMQPLAIN credentials. Handshake stages write the protocol's
 * own handshake methods; refusing and closing stays with the runner.
 */
export async function amqpHello(ctx: Secured, deps: Pick<PipelineDeps, 'config'>): Promise<Step<Greeted>> {
  let seen: Buffer = Buffer.alloc(0)
  const header = await readFrom<Exclude<ProtocolHeaderResult, { kind: 'need-more' }>>(ctx.client, ctx.signal, (chunk) => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk])
    const result = parseProtocolHeader(seen)
    return result.kind === 'need-more' ? undefined : result
  })
  if (header.kind === 'mismatch') return reject('PROTOCOL_ERROR', header.detail, header.reply)

  const frames = new HandshakeFrames(ctx.client, ctx.signal, 'client', deps.config.limits.maxHandshakeFrameBytes, header.rest)
  ctx.client.write(START_FRAME)
  const startOk = await frames.next()
  if (startOk.name !== 'connection.start-ok') {
    return reject('PROTOCOL_ERROR', `expected connection.start-ok, got ${startOk.name}`, amqpClose(503, 'COMMAND_INVALID - expected connection.start-ok'))
  }
  const credentials = startOk.mechanism === 'PLAIN'
    ? parsePlainResponse(startOk.response)
    : startOk.mechanism === 'AMQPLAIN'
      ? parseAmqplainResponse(startOk.response)
      : { ok: false as const, detail: `mechanism ${JSON.stringify(startOk.mechanism.slice(0, 32))} was not offered` }
  // After Start, every refusal is a Connection.Close (the module's refusal answers by phase).
  if (!credentials.ok) return reject('BAD_CREDENTIALS', credentials.detail, closeFor('BAD_CREDENTIALS'))
  return next({
    ...ctx, phase: 'amqp-greeted', frames, clientProperties: startOk.clientProperties,
    credentials: { username: credentials.username, password: credentials.password },
  })
}

/**
 * What the gateway announces in Connection.Start. The client later talks to RabbitMQ itself, so
 * the capabilities are RabbitMQ's (clients such as amqplib and pika switch features on by them).
 */
const SERVER_PROPERTIES = new Map([
  ['product', longstr('Portcullis')],
  ['platform', longstr(`Node.js ${process.version}`)],
  ['information', longstr('Portcullis security gateway in front of RabbitMQ')],
  ['capabilities', table([
    ['publisher_confirms', bool(true)],
    ['exchange_exchange_bindings', bool(true)],
    ['basic.nack', bool(true)],
    ['consumer_cancel_notify', bool(true)],
    ['connection.blocked', bool(true)],
    ['consumer_priorities', bool(true)],
    ['authentication_failure_close', bool(true)],
    ['per_consumer_qos', bool(true)],
    ['direct_reply_to', bool(true)],
  ])],
])

/** The same for every connection, so encoded once. */
const START_FRAME = encodeMethodFrame({
  name: 'connection.start',
  versionMajor: 0,
  versionMinor: 9,
  serverProperties: SERVER_PROPERTIES,
  mechanisms: 'PLAIN AMQPLAIN',
  locales: 'en_US',
})
