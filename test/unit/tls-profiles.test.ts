import t from 'tap'
import { randomBytes } from 'node:crypto'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls'
import { createCa, createLeaf, type KeyAndCert } from '../../src/ca/pki'
import { configSchema } from '../../src/config/schema'
import { InstanceDirectory } from '../../src/proxy/instance-directory'
import { TlsContexts } from '../../src/proxy/tls-contexts'
import { serverTlsSocket } from '../../src/tls/server-socket'
import type { TlsProfileName } from '../../src/tls/profiles'
import { tempStore } from '../helpers/pki'
import type { Test } from '../helpers/services'

interface Served {
  port: number
  ca: string
  /** Resolves when the server side of the n-th accepted connection has closed. */
  serverClosed(n: number): Promise<void>
}

/** A loopback TLS server exactly as the gateway makes one: a TlsContexts context on a server socket. */
async function serve(t: Test, profile: TlsProfileName, keyKind?: 'rsa2048'): Promise<Served> {
  const serverCa = await createCa({ commonName: 'tls-profiles server CA' })
  const leaf: KeyAndCert = await createLeaf({ commonName: 'localhost', issuer: serverCa, kind: 'server', dnsNames: ['localhost'], ...(keyKind ? { keyKind } : {}) })
  const directory = await InstanceDirectory.load(await tempStore(t))
  const contexts = new TlsContexts(leaf, directory, () => randomBytes(48), profile)
  const closed: Array<Promise<void>> = []
  const server: Server = createServer((raw) => {
    const socket = serverTlsSocket(raw, { secureContext: contexts.default })
    closed.push(new Promise((resolve) => socket.once('close', () => resolve())))
    socket.on('data', (d: Buffer) => socket.write(d)) // echo
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    contexts.close()
    directory.close()
    server.close()
  })
  return { port: (server.address() as AddressInfo).port, ca: serverCa.cert, serverClosed: (n) => closed[n] ?? Promise.reject(new Error(`no connection ${n}`)) }
}

type Outcome = { ok: true; protocol: string | null; cipher: string; socket: TLSSocket } | { ok: false; error: string }

function handshake(s: Served, options: Partial<ConnectionOptions>): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: s.port, servername: 'localhost', ca: s.ca, ...options })
    socket.once('secureConnect', () => resolve({ ok: true, protocol: socket.getProtocol(), cipher: socket.getCipher().name, socket }))
    socket.once('error', (err) => resolve({ ok: false, error: err.message }))
  })
}

async function expectRefused(t: Test, s: Served, what: string, options: Partial<ConnectionOptions>): Promise<void> {
  const outcome = await handshake(s, options)
  if (outcome.ok) outcome.socket.destroy()
  t.notOk(outcome.ok, `${what} is refused${outcome.ok ? ` (negotiated ${outcome.protocol} ${outcome.cipher})` : ''}`)
}

async function expectAccepted(t: Test, s: Served, what: string, options: Partial<ConnectionOptions>, cipher?: string): Promise<void> {
  const outcome = await handshake(s, options)
  t.ok(outcome.ok, `${what} is accepted${outcome.ok ? '' : ` (${outcome.error})`}`)
  if (!outcome.ok) return
  if (cipher !== undefined) t.equal(outcome.cipher, cipher, `${what}: ${cipher}`)
  outcome.socket.destroy()
}

/** Old protocols and ciphers are below OpenSSL 3's default security level on the client side too. */
const LEGACY_CLIENT = { ciphers: 'ALL:@SECLEVEL=0' }

t.test('intermediate (the default): TLS 1.2 with ECDHE AEAD suites and TLS 1.3; no CBC, no CCM_8, no DHE, no TLS 1.0/1.1', async (t) => {
  for (const keyKind of [undefined, 'rsa2048'] as const) {
    const key = keyKind ?? 'ECDSA'
    const s = await serve(t, 'intermediate', keyKind)
    const sig = keyKind === 'rsa2048' ? 'RSA' : 'ECDSA'
    await expectAccepted(t, s, `[${key}] TLS 1.3`, { minVersion: 'TLSv1.3' })
    await expectAccepted(t, s, `[${key}] TLS 1.2 ECDHE-${sig}-AES128-GCM`, { maxVersion: 'TLSv1.2', ciphers: `ECDHE-${sig}-AES128-GCM-SHA256` })
    await expectAccepted(t, s, `[${key}] TLS 1.2 ECDHE-${sig}-CHACHA20-POLY1305`, { maxVersion: 'TLSv1.2', ciphers: `ECDHE-${sig}-CHACHA20-POLY1305` })
    await expectRefused(t, s, `[${key}] TLS 1.2 ECDHE-${sig}-AES128-SHA (CBC)`, { maxVersion: 'TLSv1.2', ciphers: `ECDHE-${sig}-AES128-SHA` })
    await expectRefused(t, s, `[${key}] TLS 1.2 ECDHE-${sig}-AES256-SHA384 (CBC)`, { maxVersion: 'TLSv1.2', ciphers: `ECDHE-${sig}-AES256-SHA384` })
    await expectRefused(t, s, `[${key}] TLS 1.2 with every CBC suite`, { maxVersion: 'TLSv1.2', ciphers: 'ALL:!AESGCM:!CHACHA20:!AESCCM:!ARIAGCM:@SECLEVEL=0' })
    await expectRefused(t, s, `[${key}] TLS 1.2 ECDHE-ECDSA-AES128-CCM8`, { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-CCM8' })
    await expectRefused(t, s, `[${key}] TLS 1.3 TLS_AES_128_CCM_8_SHA256`, { minVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_CCM_8_SHA256' })
    await expectRefused(t, s, `[${key}] TLS 1.2 static RSA key exchange`, { maxVersion: 'TLSv1.2', ciphers: 'AES128-GCM-SHA256' })
    await expectRefused(t, s, `[${key}] TLS 1.2 DHE`, { maxVersion: 'TLSv1.2', ciphers: 'DHE-RSA-AES128-GCM-SHA256' })
    await expectRefused(t, s, `[${key}] TLS 1.1`, { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ...LEGACY_CLIENT })
    await expectRefused(t, s, `[${key}] TLS 1.0`, { minVersion: 'TLSv1', maxVersion: 'TLSv1', ...LEGACY_CLIENT })
    // Server cipher order: a client that prefers AES-256 still gets the server's first choice.
    await expectAccepted(t, s, `[${key}] a client preferring AES-256`, {
      maxVersion: 'TLSv1.2', ciphers: `ECDHE-${sig}-AES256-GCM-SHA384:ECDHE-${sig}-AES128-GCM-SHA256`,
    }, `ECDHE-${sig}-AES128-GCM-SHA256`)
  }
})

t.test('modern: TLS 1.3 only', async (t) => {
  const s = await serve(t, 'modern')
  await expectAccepted(t, s, 'TLS 1.3', {})
  await expectRefused(t, s, 'TLS 1.2 ECDHE-ECDSA-AES128-GCM', { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' })
  await expectRefused(t, s, 'TLS 1.1', { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ...LEGACY_CLIENT })
})

t.test('a client-initiated renegotiation fails and the server ends that connection', async (t) => {
  const s = await serve(t, 'intermediate')
  const outcome = await handshake(s, { maxVersion: 'TLSv1.2' })
  if (!outcome.ok) {
    t.fail(outcome.error)
    return
  }
  const socket = outcome.socket
  const echoed = new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString())))
  socket.write('before')
  t.equal(await echoed, 'before', 'the connection works')
  const failed = await new Promise<boolean>((resolve) => {
    socket.once('error', () => resolve(true))
    socket.once('close', () => resolve(true))
    socket.renegotiate({}, (err) => resolve(err !== null))
  })
  t.ok(failed, 'the renegotiation fails')
  await s.serverClosed(0)
  t.pass('the server closed its side')
  socket.destroy()
})

t.test('config: tls.profile is intermediate by default, modern on request, nothing else', async (t) => {
  t.equal(configSchema.parse({}).tls.profile, 'intermediate')
  t.equal(configSchema.parse({ tls: { profile: 'modern' } }).tls.profile, 'modern')
  const bad = configSchema.safeParse({ tls: { profile: 'old' } })
  t.notOk(bad.success, 'an unknown profile is refused')
  t.match(JSON.stringify(bad.error?.issues[0]?.path), /tls.*profile/, 'naming the key')
})
