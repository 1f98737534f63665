import t from 'tap'
import { amqpHello } from '../../../src/protocols/amqp/stages/hello'
import { amqpAuthenticate } from '../../../src/protocols/amqp/stages/authenticate'
import { PROTOCOL_HEADER, FrameReader } from '../../../src/protocols/amqp/frame-codec'
import { decodeMethod, encodeMethodFrame } from '../../../src/protocols/amqp/methods'
import { socketPair } from '../../helpers/socket-pair'
import { instance, listenerConfig, secured } from '../../helpers/contexts'
import { authorizationWithoutPolicies } from '../../helpers/authorization'

const deps = { config: { limits: { maxHandshakeFrameBytes: 131072 } } } as Parameters<typeof amqpHello>[1]
const listener = listenerConfig({ protocol: 'amqp' })

function startOk(response: Buffer, mechanism = 'PLAIN'): Buffer {
  return encodeMethodFrame({ name: 'connection.start-ok', clientProperties: new Map(), mechanism, response, locale: 'en_US' })
}

function methodsIn(bytes: Buffer): string[] {
  return new FrameReader(131072).push(bytes).frames.map((frame) => {
    const decoded = decodeMethod(frame.payload)
    return decoded.ok ? decoded.method.name : 'undecodable'
  })
}

t.test('header, Start, Start-Ok (even sent in one write): the client is greeted and its PLAIN credentials held for the next stage only', async (t) => {
  const { gateway, peer, written } = socketPair()
  peer.write(Buffer.concat([PROTOCOL_HEADER, startOk(Buffer.from('\u0000user\u0000pass'))]))
  const step = await amqpHello(secured(gateway, { listener }), deps)
  if (step.kind !== 'next') throw new Error(`refused: ${step.reason}`)
  t.equal(step.ctx.phase, 'amqp-greeted')
  t.same(step.ctx.credentials, { username: 'user', password: 'pass' })
  t.same(methodsIn(written()), ['connection.start'], 'the gateway sent Connection.Start')
})

t.test('a wrong protocol header is answered with the gateway\'s own header (AMQP 0-9-1 §4.2.2)', async (t) => {
  const { gateway, peer } = socketPair()
  peer.write(Buffer.from('AMQP\u0000\u0001\u0000\u0000'))
  const step = await amqpHello(secured(gateway, { listener }), deps)
  if (step.kind !== 'reject') throw new Error('admitted')
  t.equal(step.reason, 'PROTOCOL_ERROR')
  t.same(step.reply, PROTOCOL_HEADER)
})

t.test('a mechanism that was not offered is BAD_CREDENTIALS with a Connection.Close, since Start went out', async (t) => {
  const { gateway, peer } = socketPair()
  peer.write(Buffer.concat([PROTOCOL_HEADER, startOk(Buffer.from('x'), 'EXTERNAL')]))
  const step = await amqpHello(secured(gateway, { listener }), deps)
  if (step.kind !== 'reject') throw new Error('admitted')
  t.equal(step.reason, 'BAD_CREDENTIALS')
  t.same(methodsIn(step.reply ?? Buffer.alloc(0)), ['connection.close'])
})

t.test('authentication drops the password and names the AccessKey of a refused login for the audit event', async (t) => {
  const { gateway, peer } = socketPair()
  peer.write(Buffer.concat([PROTOCOL_HEADER, startOk(Buffer.from('\u0000user\u0000pass'))]))
  const greeted = await amqpHello(secured(gateway, { listener }), deps)
  if (greeted.kind !== 'next') throw new Error('refused')
  const refusing = {
    amqpAuth: { authenticate: async () => ({ ok: false as const, reason: 'BAD_CREDENTIALS' as const, detail: 'wrong', accessKeyId: 'LTAI-x' }) },
    directory: { get: () => undefined },
  } as unknown as Parameters<typeof amqpAuthenticate>[1]
  const refused = await amqpAuthenticate(greeted.ctx, refusing)
  t.same(refused.kind === 'reject' ? [refused.reason, refused.actor] : refused.kind, ['BAD_CREDENTIALS', { accessKeyId: 'LTAI-x' }])

  const amqpInstance = instance({ id: 'mq-1', protocol: 'amqp' })
  const admitting = {
    amqpAuth: { authenticate: async () => ({ ok: true as const, subject: { instanceId: 'mq-1', accessKeyId: 'LTAI-x', kind: 'sts', username: 'u', expiresAt: '2030-01-01T00:00:00.000Z' } }) },
    directory: { get: () => amqpInstance },
    authorization: authorizationWithoutPolicies([amqpInstance]),
  } as unknown as Parameters<typeof amqpAuthenticate>[1]
  const step = await amqpAuthenticate(greeted.ctx, admitting)
  if (step.kind !== 'next') throw new Error('refused')
  t.equal(step.ctx.instance.id, 'mq-1', 'without SNI the userName names the instance')
  t.same(step.ctx.identity, { accessKeyId: 'LTAI-x', username: 'u', credentialExpiresAt: '2030-01-01T00:00:00.000Z' })
  t.notOk('credentials' in step.ctx, 'the password is not carried on')
})
