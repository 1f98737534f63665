import t from 'tap'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { connect as tlsConnect, createSecureContext, type TLSSocket } from 'node:tls'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { createCa, createLeaf } from '../../src/ca/pki'
import { tlsHandshake } from '../../src/proxy/stages/tls-handshake'
import type { Proxied } from '../../src/proxy/lifecycle/context'
import type { PipelineDeps } from '../../src/proxy/deps'
import { mqttProtocol } from '../../src/protocols/mqtt/module'
import type { InstanceRecord } from '../../src/store/records'
import { asConnId } from '../../src/ids'

// A spliced session lives for hours or days; whatever its TLS socket can reach lives as long. The
// socket keeps its SNICallback, so that callback must not hold the connection (its CONNECT, its
// certificates, its deadline controller): this checks it with a real handshake and a real GC.
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

t.test('after the TLS stage, the TLS socket no longer keeps the connection alive', async (t) => {
  const ca = await createCa({ commonName: 'retention test CA' })
  const leaf = await createLeaf({ commonName: 'mqtt.retention.test', issuer: ca, kind: 'server', dnsNames: ['mqtt.retention.test'] })
  const context = createSecureContext({ cert: leaf.cert, key: leaf.key })
  const instance = { id: 'retention', protocol: 'mqtt', accessType: 'ANY_TUNNEL' } as unknown as InstanceRecord
  const deps = {
    tlsContexts: { default: context, forInstance: () => context },
    directory: { findByHostname: () => instance, get: () => instance, all: () => [instance] },
  } as unknown as PipelineDeps

  const accepted = new Promise<Socket>((resolve) => {
    const server = createServer({ pauseOnConnect: true }, resolve)
    server.listen(0, '127.0.0.1', () => {
      const client = tlsConnect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', servername: 'mqtt.retention.test', ca: ca.cert })
      client.on('error', () => undefined)
      t.teardown(() => { client.destroy(); server.close() })
    })
  })
  const socket = await accepted

  // The connection is made and dropped inside this function: only a WeakRef to it leaves.
  const handshake = async (): Promise<{ tls: TLSSocket; refs: Array<WeakRef<object>>; phase: string }> => {
    const proxied: Proxied = {
      phase: 'proxied',
      id: asConnId('retention-test'),
      listener: { name: 'mqtts', protocol: 'mqtt', tls: true } as Proxied['listener'],
      socket,
      acceptedAt: 0,
      startedAt: new Date().toISOString(),
      signal: new AbortController().signal,
      source: { ip: '127.0.0.1', port: 0 },
    }
    const step = await tlsHandshake(mqttProtocol)(proxied, deps)
    if (step.kind !== 'next') throw new Error(`handshake refused: ${step.reason}`)
    return { tls: step.ctx.tls as TLSSocket, refs: [new WeakRef(proxied), new WeakRef(step.ctx)], phase: step.ctx.phase }
  }
  const { tls, refs, phase } = await handshake()
  t.teardown(() => tls.destroy())
  t.equal(phase, 'secured', 'the handshake completed for the instance named by SNI')

  await new Promise((resolve) => setImmediate(resolve))
  gc()
  t.notOk(tls.destroyed, 'the TLS socket is still open')
  t.equal(refs[0]?.deref(), undefined, 'the context it was made from has been collected')
  t.equal(refs[1]?.deref(), undefined, 'and so has the secured context it answered')
})
