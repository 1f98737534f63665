import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createCa, createLeaf, type KeyAndCert } from '../src/ca/pki'
import { AMQP_HOSTNAME, MQTT_HOSTNAME } from './servers/portcullis'

/**
 * The run's certificates, all ECDSA P-256 (issue 5 §1: "same certificates"): a server CA and one
 * server certificate that HAProxy and Portcullis both present, and a client CA with the client
 * certificate every MQTT load connection presents.
 */
export interface BenchPki {
  serverCa: KeyAndCert
  server: KeyAndCert
  clientCa: KeyAndCert
  client: KeyAndCert
  files: { serverCert: string; serverKey: string; serverPem: string; clientCaPem: string }
}

export async function createBenchPki(dir: string): Promise<BenchPki> {
  const [serverCa, clientCa] = await Promise.all([
    createCa({ commonName: 'Portcullis Bench Server CA' }),
    createCa({ commonName: 'Portcullis Bench Client CA' }),
  ])
  const [server, client] = await Promise.all([
    createLeaf({ commonName: 'bench server', issuer: serverCa, kind: 'server', dnsNames: [MQTT_HOSTNAME, AMQP_HOSTNAME, 'localhost'], ipAddresses: ['127.0.0.1'] }),
    createLeaf({ commonName: 'bench-device', issuer: clientCa, kind: 'client' }),
  ])
  const files = {
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    serverPem: join(dir, 'haproxy-server.pem'),
    clientCaPem: join(dir, 'client-ca.pem'),
  }
  writeFileSync(files.serverCert, server.cert)
  writeFileSync(files.serverKey, server.key, { mode: 0o600 })
  writeFileSync(files.serverPem, server.cert + server.key, { mode: 0o600 })
  writeFileSync(files.clientCaPem, clientCa.cert)
  return { serverCa, server, clientCa, client, files }
}

/**
 * Client certificates for a storm's devices (issue 15), issued by the run's client CA: one per
 * device by default, as a real fleet has (the gateway caches verified chains by leaf fingerprint,
 * so a small pool reused round-robin would let it skip chain checks a fleet's storm does not let
 * it skip). About 4 ms each on this machine's generator core; issued 64 at a time.
 */
export async function createDeviceCertificates(clientCa: KeyAndCert, count: number): Promise<KeyAndCert[]> {
  const out: KeyAndCert[] = []
  for (let i = 0; i < count; i += 64) {
    const batch = Array.from({ length: Math.min(64, count - i) }, (_, k) =>
      createLeaf({ commonName: `storm-device-${String(i + k).padStart(6, '0')}`, issuer: clientCa, kind: 'client' }))
    out.push(...(await Promise.all(batch)))
  }
  return out
}
