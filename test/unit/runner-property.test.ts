import t from 'tap'
import fc from 'fast-check'
import { bytes } from '../helpers/arbitraries'
import { pipelineDeps } from '../helpers/pipeline-deps'
import assert from 'node:assert/strict'
import mqttPacket from 'mqtt-packet'
import { runConnection } from '../../src/proxy/lifecycle/runner'
import { pipelineFor } from '../../src/proxy/pipeline'
import type { PipelineDeps } from '../../src/proxy/deps'
import { mqttProtocol } from '../../src/protocols/mqtt/module'
import { amqpProtocol } from '../../src/protocols/amqp/module'
import { PROTOCOL_HEADER } from '../../src/protocols/amqp/frame-codec'
import { encodeMethodFrame } from '../../src/protocols/amqp/methods'
import { encodeFieldTableBody, longstr } from '../../src/protocols/amqp/field-table'
import { AmqpAuthenticator } from '../../src/auth/authenticate'
import { deriveCredentials } from '../../src/auth/credentials'
import { SecurityTokens } from '../../src/auth/security-tokens'
import { StaticAccountService } from '../../src/auth/static-accounts'
import { REFUSAL_REASONS } from '../../src/reasons'
import type { InstanceRecord } from '../../src/store/records'
import { authStore } from '../helpers/auth-fixture'
import { serviceAvailable } from '../helpers/services'
import { instance, listenerConfig, unhandledRejections } from '../helpers/contexts'
import { socketPair, splitAt, writeChunks } from '../helpers/socket-pair'

/**
 * The runner as a whole (`runConnection`, lifecycle/runner.ts) with the real MQTT and AMQP
 * pipelines on a plain listener, for arbitrary client bytes, chunkings and early closes:
 * - it settles within the handshake deadline (plus scheduling slack), never hangs;
 * - every connection ends exactly one way: one `connection.rejected` audit event with a reason
 *   from src/reasons.ts, or (AMQP, real RabbitMQ behind it) one live session, never both;
 * - a refused client hears at most its protocol's last words (a CONNACK; Start + Tune + Close);
 * - no promise rejection goes unhandled.
 * MQTT on a plain listener is refused CLIENT_CERT_MISSING, then the refusal reads the CONNECT (through
 * the capped decoder, within the deadline) to answer in the client's version: that read is what
 * the arbitrary bytes exercise. AMQP runs to RabbitMQ's own login with the instance's credentials.
 */
const HANDSHAKE_MS = 400
const SETTLED_BY_MS = HANDSHAKE_MS + 2000

function flip(base: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  return fc.tuple(base, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 })).map(([b, edits]) => {
    const copy = Buffer.from(b)
    for (const [at, v] of edits) if (copy.length > 0) copy[at % copy.length] = v
    return copy
  })
}
const delivery = fc.record({ cuts: fc.array(fc.nat(), { maxLength: 8 }), close: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }) })

function deps(target: InstanceRecord[], over: Partial<PipelineDeps> = {}): PipelineDeps {
  return pipelineDeps({
    instances: target, processId: 'runner-property', maxStaleMs: 60_000,
    limits: { handshakeTimeoutMs: HANDSHAKE_MS, backendConnectTimeoutMs: HANDSHAKE_MS, maxConnectBytes: 1024, maxHandshakeFrameBytes: 131072, slowConsumerTimeoutMs: 0 },
  }, over)
}

interface Outcome { ms: number; rejected: string[]; accepted: number; live: number; written: Buffer }

/** Runs one client through the runner; afterwards closes whatever is still open and waits for it. */
async function run(d: PipelineDeps, protocol: typeof mqttProtocol | typeof amqpProtocol, input: Buffer, cuts: number[], close: boolean): Promise<Outcome> {
  const { gateway, peer, written } = socketPair()
  const listener = listenerConfig({ protocol: protocol.name, tls: false })
  const start = performance.now()
  const writing = writeChunks(peer, splitAt(input, cuts), close)
  await runConnection(gateway, listener, protocol, pipelineFor(protocol as never), d)
  const ms = performance.now() - start
  await writing
  const outcome: Outcome = {
    ms,
    rejected: d.audit.recent({ type: 'connection.rejected' }).map((e) => String(e.reason)),
    accepted: d.audit.recent({ type: 'connection.accepted' }).length,
    live: d.sessions.size,
    written: written(),
  }
  peer.destroy()
  for (let i = 0; i < 200 && d.sessions.size > 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 10))
  return outcome
}

function endsOneWay(o: Outcome): void {
  assert.ok(o.ms < SETTLED_BY_MS, `runConnection took ${o.ms} ms`)
  assert.ok(o.rejected.length + o.accepted === 1, `ended ${o.rejected.length} rejected + ${o.accepted} accepted`)
  assert.equal(o.live, o.accepted, 'a live session exactly when accepted')
  for (const reason of o.rejected) assert.ok((REFUSAL_REASONS as readonly string[]).includes(reason), reason)
}

const mqttConnect = fc.record({ version: fc.constantFrom(3 as const, 4 as const, 5 as const), clientId: fc.stringMatching(/^[a-z0-9]{1,16}$/) })
  .map(({ version, clientId }) => mqttPacket.generate({ cmd: 'connect', protocolId: version === 3 ? 'MQIsdp' : 'MQTT', protocolVersion: version, clientId, clean: true, keepalive: 30 }))

t.test('MQTT: any client bytes end in exactly one audited refusal within the deadline, answered with at most a CONNACK', async (t) => {
  const rejections = unhandledRejections()
  t.teardown(rejections.stop)
  const mqttInstance = instance({ id: 'mqtt-prop', protocol: 'mqtt' })
  const input = fc.tuple(fc.oneof(bytes(60), mqttConnect, flip(mqttConnect)), bytes(8)).map(([a, b]) => Buffer.concat([a, b]))
  const replies = new Set<string>()
  await fc.assert(fc.asyncProperty(input, delivery, async (client, { cuts, close }) => {
    const o = await run(deps([mqttInstance]), mqttProtocol, client, cuts, close)
    endsOneWay(o)
    assert.deepEqual(o.rejected, ['CLIENT_CERT_MISSING'], 'a plain listener cannot authenticate devices')
    assert.ok(o.written.length <= 300, `wrote ${o.written.length} octets`)
    if (o.written.length > 0) assert.equal(o.written[0], 0x20, 'the last words are a CONNACK')
    replies.add(o.written.length > 0 ? 'connack' : 'closed')
  }), { numRuns: 100 })
  t.equal(rejections.count(), 0, 'no unhandled rejection')
  t.ok(replies.has('connack') && replies.has('closed'), `replies ${[...replies].join(', ')}`)
})

t.test('AMQP: any client bytes end in one audited refusal or one live session on RabbitMQ, within the deadline', async (t) => {
  if (!(await serviceAvailable(t, 'rabbitmq', 5672))) return
  const rejections = unhandledRejections()
  t.teardown(rejections.stop)
  const { keys } = await authStore(t, { tmpPrefix: 'portcullis-runner-property-' })
  const { accessKeyId, accessKeySecret } = await keys.create()
  const mq = instance({ id: 'mq-prop', protocol: 'amqp', backend: { kind: 'tcp', host: '127.0.0.1', port: 5672, username: 'guest', password: 'guest' } } as never)
  const amqpAuth = new AmqpAuthenticator({
    accessKeys: keys,
    staticAccounts: { find: async () => undefined } as unknown as StaticAccountService,
    tokens: { verify: () => ({ ok: false, detail: 'no tokens here' }) } as unknown as SecurityTokens,
    isAmqpInstance: (id) => id === 'mq-prop',
  })
  const good = (): { userName: string; password: string } => deriveCredentials({ instanceId: 'mq-prop', accessKeyId, accessKeySecret, ts: String(Date.now()), kind: 'dynamic' })
  const startOk = (mechanism: string, response: Buffer): Buffer => encodeMethodFrame({ name: 'connection.start-ok', clientProperties: new Map([['product', longstr('prop')]]), mechanism, response, locale: 'en_US' })
  const tuneOpen = Buffer.concat([
    encodeMethodFrame({ name: 'connection.tune-ok', channelMax: 0, frameMax: 131072, heartbeat: 0 }),
    encodeMethodFrame({ name: 'connection.open', virtualHost: '/', capabilities: '', insist: false }),
  ])
  // Credentials are derived when the run starts (the password's timestamp must be current).
  type Plan = 'plain' | 'amqplain' | 'wrong-password' | 'raw'
  const plan = fc.record({
    kind: fc.constantFrom<Plan>('plain', 'amqplain', 'wrong-password', 'raw'),
    raw: bytes(60),
    tail: bytes(12),
    flip: fc.option(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { nil: undefined }),
  })
  const outcomes = new Set<string>()
  await fc.assert(fc.asyncProperty(plan, delivery, async ({ kind, raw, tail, flip: edit }, { cuts, close }) => {
    const c = good()
    const response = kind === 'amqplain'
      ? encodeFieldTableBody(new Map([['LOGIN', longstr(c.userName)], ['PASSWORD', longstr(c.password)]]))
      : Buffer.from(`\u0000${c.userName}\u0000${kind === 'wrong-password' ? Buffer.from('0'.repeat(40) + ':1', 'utf8').toString('base64') : c.password}`)
    let client = kind === 'raw' ? Buffer.concat([PROTOCOL_HEADER.subarray(0, raw.length % 9), raw]) : Buffer.concat([PROTOCOL_HEADER, startOk(kind === 'amqplain' ? 'AMQPLAIN' : 'PLAIN', response), tuneOpen, tail])
    if (edit !== undefined) {
      client = Buffer.from(client)
      client[edit[0] % client.length] = edit[1]
    }
    const d = deps([mq], { amqpAuth } as Partial<PipelineDeps>)
    const o = await run(d, amqpProtocol, client, cuts, close && kind === 'raw')
    endsOneWay(o)
    if (o.accepted === 0) assert.ok(o.written.length <= 2048, `a refused client got ${o.written.length} octets`)
    outcomes.add(o.accepted === 1 ? 'live' : o.rejected[0]!)
  }), { numRuns: 60 })
  t.equal(rejections.count(), 0, 'no unhandled rejection')
  t.ok(outcomes.has('live') && outcomes.has('BAD_CREDENTIALS') && outcomes.has('PROTOCOL_ERROR'), `outcomes ${[...outcomes].join(', ')}`)
})
