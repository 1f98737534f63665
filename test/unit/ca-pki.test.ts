import { X509Certificate, createPrivateKey, createSign, createVerify } from 'node:crypto'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, createServer } from 'node:tls'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { parseCertificatePem } from '../../src/ca/certificate'
import { createCa, createLeaf, createVerificationCertificate, writeDevPki } from '../../src/ca/pki'
import { readExtensions } from '../../src/ca/der-extensions'

function keyMatchesCert(keyPem: string, certPem: string): boolean {
  const signature = createSign('sha256').update('probe').sign(createPrivateKey(keyPem))
  return createVerify('sha256').update('probe').verify(new X509Certificate(certPem).publicKey, signature)
}

t.test('a root CA is self-signed, a P-256 CA with keyCertSign, valid now', async (t) => {
  const root = await createCa({ commonName: 'Test Root' })
  const cert = new X509Certificate(root.cert)
  t.equal(cert.subject, 'CN=Test Root')
  t.equal(cert.issuer, 'CN=Test Root')
  t.ok(cert.ca)
  t.ok(cert.verify(cert.publicKey))
  t.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1')
  t.match(root.key, /^-----BEGIN PRIVATE KEY-----\n/)
  t.ok(keyMatchesCert(root.key, root.cert))
  t.ok(Date.parse(cert.validFrom) <= Date.now() && Date.parse(cert.validTo) > Date.now())
})

t.test('an intermediate is signed by its issuer and carries its pathLength', async (t) => {
  const root = await createCa({ commonName: 'Root' })
  const inter = await createCa({ commonName: 'Inter', issuer: root, pathLength: 0 })
  const cert = new X509Certificate(inter.cert)
  t.ok(cert.checkIssued(new X509Certificate(root.cert)))
  t.ok(cert.verify(new X509Certificate(root.cert).publicKey))
  t.equal(readExtensions(cert.raw).pathLength, 0)
})

t.test('createCa can make a non-CA or a CA whose keyUsage lacks keyCertSign, for negative tests', async (t) => {
  const notCa = await createCa({ commonName: 'Not a CA', ca: false })
  t.notOk(new X509Certificate(notCa.cert).ca)
  const noSign = await createCa({ commonName: 'No keyCertSign', keyUsage: ['digitalSignature'] })
  t.notOk(new X509Certificate(noSign.cert).ca)
  t.equal(readExtensions(new X509Certificate(noSign.cert).raw).ca, true)
  const noKu = await createCa({ commonName: 'No keyUsage', keyUsage: false })
  t.ok(new X509Certificate(noKu.cert).ca)
  t.equal(readExtensions(new X509Certificate(noKu.cert).raw).keyUsage, undefined)
})

t.test('a re-issued CA keeps name and key but is a different certificate', async (t) => {
  const first = await createCa({ commonName: 'Same' })
  const second = await createCa({ commonName: 'Same', key: first.key })
  t.not(parseCertificatePem(first.cert).id, parseCertificatePem(second.cert).id)
  t.equal(parseCertificatePem(first.cert).spkiSha256, parseCertificatePem(second.cert).spkiSha256)
})

t.test('explicit validity dates are honoured', async (t) => {
  const notBefore = new Date('2020-01-01T00:00:00Z')
  const notAfter = new Date('2021-01-01T00:00:00Z')
  const ca = parseCertificatePem((await createCa({ commonName: 'Old', notBefore, notAfter })).cert)
  t.equal(ca.notBefore, notBefore.toISOString())
  t.equal(ca.notAfter, notAfter.toISOString())
})

t.test('leaves carry the right extended key usage and subject alternative names', async (t) => {
  const ca = await createCa({ commonName: 'CA' })
  const server = await createLeaf({ commonName: 'srv', issuer: ca, kind: 'server', dnsNames: ['a.test'], ipAddresses: ['127.0.0.1', '::1'] })
  const client = await createLeaf({ commonName: 'dev-1', issuer: ca, kind: 'client' })
  const s = new X509Certificate(server.cert)
  t.same(s.keyUsage, ['1.3.6.1.5.5.7.3.1'])
  t.equal(s.subjectAltName, 'DNS:a.test, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1')
  t.notOk(s.ca)
  const c = new X509Certificate(client.cert)
  t.same(c.keyUsage, ['1.3.6.1.5.5.7.3.2'])
  t.ok(c.checkIssued(new X509Certificate(ca.cert)))
  t.ok(keyMatchesCert(client.key, client.cert))
})

t.test('a verification certificate has the code as CN, its own key, and the CA signature', async (t) => {
  const ca = await createCa({ commonName: 'CA' })
  const v = await createVerificationCertificate({ registrationCode: 'abc123', ca })
  const parsed = parseCertificatePem(v.cert)
  t.equal(parsed.commonName, 'abc123')
  t.ok(parsed.x509.verify(new X509Certificate(ca.cert).publicKey))
  t.not(parsed.spkiSha256, parseCertificatePem(ca.cert).spkiSha256)
  t.ok(keyMatchesCert(v.key, v.cert))
})

t.test('many certificates are generated quickly', async (t) => {
  const ca = await createCa({ commonName: 'Fast' })
  const started = Date.now()
  await Promise.all(Array.from({ length: 40 }, (_, i) => createLeaf({ commonName: `d${i}`, issuer: ca, kind: 'client' })))
  const elapsed = Date.now() - started
  t.ok(elapsed < 10_000, `40 leaves took ${elapsed} ms`)
})

t.test('writeDevPki writes a working demo PKI with private keys mode 0600', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-devpki-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const paths = await writeDevPki(join(dir, 'certs'))
  for (const key of [paths.caKey, paths.serverKey, paths.clientKey]) {
    t.equal((await stat(key)).mode & 0o777, 0o600, key)
    t.match(await readFile(key, 'utf8'), /^-----BEGIN PRIVATE KEY-----/)
  }
  const ca = new X509Certificate(await readFile(paths.caCert))
  const client = new X509Certificate(await readFile(paths.clientCert))
  const serverCa = new X509Certificate(await readFile(paths.serverCaCert))
  const server = new X509Certificate(await readFile(paths.serverCert))
  t.ok(ca.ca)
  t.ok(client.checkIssued(ca) && client.verify(ca.publicKey))
  t.equal(parseCertificatePem(client.toString()).commonName, 'demo-device')
  t.ok(server.checkIssued(serverCa) && server.verify(serverCa.publicKey))
  t.notOk(server.checkIssued(ca), 'the server certificate comes from a separate CA')
  t.equal(server.checkHost('localhost'), 'localhost')
  t.equal(server.checkHost('mqtt.portcullis.local'), '*.portcullis.local')
  t.equal(server.checkIP('127.0.0.1'), '127.0.0.1')
  t.equal(server.checkIP('::1'), '::1')

  // The files work for real TLS with mutual authentication, both ways verified by OpenSSL.
  const [serverKey, serverCert, caCert, clientKey, clientCert, serverCaCert] = await Promise.all(
    [paths.serverKey, paths.serverCert, paths.caCert, paths.clientKey, paths.clientCert, paths.serverCaCert].map((p) => readFile(p)),
  )
  const srv = createServer({ key: serverKey, cert: serverCert, ca: caCert, requestCert: true, rejectUnauthorized: true }, (socket) => {
    socket.end(String(socket.getPeerCertificate().subject?.CN))
  })
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  t.teardown(() => srv.close())
  const { port } = srv.address() as AddressInfo
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: serverCaCert, key: clientKey, cert: clientCert })
    let data = ''
    socket.on('data', (chunk: Buffer) => { data += chunk.toString() })
    socket.on('end', () => resolve(data))
    socket.on('error', reject)
  })
  t.equal(answer, 'demo-device')
})
