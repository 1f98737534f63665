import t from 'tap'
import type { Duplex } from 'node:stream'
import { startSplice } from '../../src/proxy/splice'
import type { Ready } from '../../src/proxy/lifecycle/context'
import { MqttPacketBoundary } from '../../src/protocols/mqtt/packet-boundary'
import { asConnId } from '../../src/ids'
import { identified } from '../helpers/contexts'
import { pipelineDeps } from '../helpers/pipeline-deps'
import { socketPair } from '../helpers/socket-pair'
import { waitFor } from '../helpers/wait'

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** An MQTT PUBLISH (QoS 0) of `size` payload bytes on topic "t": a frame the boundary tracker reads. */
function publish(size: number, fill: number): Buffer {
  const body = Buffer.concat([Buffer.from([0x00, 0x01, 0x74]), Buffer.alloc(size, fill)])
  return Buffer.concat([Buffer.from([0x30, body.length]), body])
}

const GOODBYE = Buffer.from([0xe0, 0x00])

t.test('a kick while the broker is in the middle of a packet finishes that packet, then says goodbye, and nothing after', async (t) => {
  const client = socketPair()
  const upstream = socketPair()
  const connId = asConnId('conn-splice-goodbye')
  const conn = {
    ...identified(client.gateway, {}, { id: connId }),
    phase: 'ready', upstream: upstream.gateway,
    upstreamPreamble: [], downstreamPreamble: [], clientPipelined: [], brokerPipelined: [],
  } as unknown as Ready<unknown>
  const deps = pipelineDeps({ instances: [], limits: { slowConsumerTimeoutMs: 0, maxInspectedPacketBytes: 65536, maxInjectedBacklogBytes: 65536 }, processId: 'test', maxStaleMs: 1000 })
  startSplice(conn, {
    session: () => ({ farewell: () => GOODBYE, backendLost: () => undefined, boundary: new MqttPacketBoundary() }),
    enforce: () => { throw new Error('not an enforcing instance') },
  }, deps)
  const received: Buffer[] = []
  client.peer.on('data', (chunk: Buffer) => received.push(chunk))
  const broker: Duplex = upstream.peer

  const first = publish(20, 0x61)
  const second = publish(40, 0x62)
  const third = publish(10, 0x63)
  // The first packet whole and the second's first half: the client's stream is mid-packet.
  broker.write(Buffer.concat([first, second.subarray(0, 25)]))
  await waitFor(() => Buffer.concat(received).length === first.length + 25, 2000, 'the first bytes at the client')
  t.ok(deps.sessions.kick(connId, 'DEVICE_CERT_REVOKED'), 'the session is kicked')
  // The rest of the second packet arrives together with a third that must not be passed on.
  broker.write(Buffer.concat([second.subarray(25), third]))
  await waitFor(() => client.peer.readableEnded || Buffer.concat(received).length >= first.length + second.length + GOODBYE.length, 2000, 'the goodbye')
  await turn()
  t.same(Buffer.concat(received), Buffer.concat([first, second, GOODBYE]), 'the second packet completed, then the goodbye; the third never sent')
})
