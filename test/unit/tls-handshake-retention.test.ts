import t from 'tap'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { connect as tlsConnect, createSecureContext, type TLSSocket } from 'node:tls'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { createCa, createLeaf } from '../../src/ca/pki'
import { tlsHandshake } from '../../src/proxy/stages/tls-handshake'
import type { Connection } from '../../src/proxy/connection'
import type { PipelineDeps } from '../../src/proxy/deps'
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
  const handshake = async (): Promise<{ tls: TLSSocket; ref: WeakRef<Connection>; verdict: string }> => {
    const conn: Connection = {
      id: asConnId('retention-test'),
      listener: { name: 'mqtts', protocol: 'mqtt', tls: true } as Connection['listener'],
      socket,
      acceptedAt: 0,
      startedAt: new Date().toISOString(),
      signal: new AbortController().signal,
      source: { ip: '127.0.0.1', port: 0 },
      phase: { name: 'handshaking' },
      client: socket,
    }
    const verdict = await tlsHandshake(conn, deps)
    return { tls: conn.tls as TLSSocket, ref: new WeakRef(conn), verdict: verdict.kind }
  }
  const { tls, ref, verdict } = await handshake()
  t.teardown(() => tls.destroy())
  t.equal(verdict, 'continue', 'the handshake completed for the instance named by SNI')

  await new Promise((resolve) => setImmediate(resolve))
  gc()
  t.notOk(tls.destroyed, 'the TLS socket is still open')
  t.equal(ref.deref(), undefined, 'and the connection it was made for has been collected')
})
