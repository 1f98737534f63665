import { createHash, X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import t from 'tap'
import { certificateId, inspectCertificate, isSelfIssued, isValidAt, parseCertificatePem } from '../../src/ca/certificate'
import { criticalExtensionsUnderstood, readExtensions } from '../../src/ca/der-extensions'
import { createCa, createLeaf } from '../../src/ca/pki'
import type { Test } from '../helpers/services'

function refusesAsInvalid(t: Test, input: string, what: string): void {
  t.throws(() => parseCertificatePem(input), { code: 'CERT_INVALID' }, what)
}

t.test('parses a PEM certificate into the fields the registries store', async (t) => {
  const ca = await createCa({ commonName: 'Parse CA' })
  const leaf = await createLeaf({ commonName: 'device-7', issuer: ca, kind: 'client' })
  const parsed = parseCertificatePem(leaf.cert)
  const der = new X509Certificate(leaf.cert).raw
  t.equal(parsed.id, createHash('sha256').update(der).digest('hex'))
  t.match(parsed.id, /^[0-9a-f]{64}$/)
  t.equal(parsed.commonName, 'device-7')
  t.equal(parsed.subject, 'CN=device-7')
  t.equal(parsed.issuer, 'CN=Parse CA')
  t.match(parsed.serialNumber, /^[0-9a-f]+$/)
  t.match(parsed.notBefore, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/)
  t.ok(Date.parse(parsed.notAfter) > Date.parse(parsed.notBefore))
  const spki = parsed.x509.publicKey.export({ type: 'spki', format: 'der' })
  t.equal(parsed.spkiSha256, createHash('sha256').update(spki).digest('hex'))
  t.equal(parsed.isCa, false)
  t.equal(certificateId(parsed.x509), parsed.id)
  t.equal(parseCertificatePem(ca.cert).isCa, true)
})

t.test('normalises PEM: CRLF, surrounding whitespace and line width give the same certificate', async (t) => {
  const ca = await createCa({ commonName: 'Norm' })
  const base64 = new X509Certificate(ca.cert).raw.toString('base64')
  const oneLine = `\n\n  -----BEGIN CERTIFICATE-----\r\n${base64}\r\n-----END CERTIFICATE-----\r\n\n`
  const parsed = parseCertificatePem(oneLine)
  t.equal(parsed.pem, parseCertificatePem(ca.cert).pem)
  t.match(parsed.pem, /^-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=]{64}\n)+[A-Za-z0-9+/=]{1,64}\n-----END CERTIFICATE-----\n$/)
})

t.test('refuses garbage, several certificates, keys and trailing bytes with CERT_INVALID', async (t) => {
  const ca = await createCa({ commonName: 'Refuse' })
  const leaf = await createLeaf({ commonName: 'x', issuer: ca, kind: 'client' })
  refusesAsInvalid(t, '', 'empty')
  refusesAsInvalid(t, 'hello', 'not PEM')
  refusesAsInvalid(t, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', 'PEM of garbage')
  refusesAsInvalid(t, ca.cert + leaf.cert, 'two certificates')
  refusesAsInvalid(t, ca.cert + ca.key, 'a certificate with its private key')
  refusesAsInvalid(t, ca.key, 'a private key')
  refusesAsInvalid(t, 'junk\n' + ca.cert, 'text before the certificate')
  const der = new X509Certificate(ca.cert).raw
  const padded = Buffer.concat([der, Buffer.from([0, 0, 0])]).toString('base64')
  refusesAsInvalid(t, `-----BEGIN CERTIFICATE-----\n${padded}\n-----END CERTIFICATE-----\n`, 'bytes after the DER')
  refusesAsInvalid(t, 42 as unknown as string, 'not a string')
})

t.test('isCa needs basicConstraints cA and, when keyUsage is present, keyCertSign', async (t) => {
  t.equal(parseCertificatePem((await createCa({ commonName: 'a' })).cert).isCa, true)
  t.equal(parseCertificatePem((await createCa({ commonName: 'b', keyUsage: false })).cert).isCa, true, 'no keyUsage at all')
  t.equal(parseCertificatePem((await createCa({ commonName: 'c', keyUsage: ['digitalSignature', 'cRLSign'] })).cert).isCa, false)
  t.equal(parseCertificatePem((await createCa({ commonName: 'd', ca: false })).cert).isCa, false)
})

t.test('commonName handles escaped characters in the subject', async (t) => {
  const ca = await createCa({ commonName: 'Acme, Inc. + "Things" \\ <x>' })
  const parsed = parseCertificatePem(ca.cert)
  t.equal(parsed.commonName, 'Acme, Inc. + "Things" \\ <x>')
  const unicode = parseCertificatePem((await createCa({ commonName: 'Gerät-ü-😀' })).cert)
  t.equal(unicode.commonName, 'Gerät-ü-😀')
})

t.test('isValidAt includes both ends of the validity period', async (t) => {
  const notBefore = new Date('2030-01-01T00:00:00Z')
  const notAfter = new Date('2030-12-31T00:00:00Z')
  const parsed = parseCertificatePem((await createCa({ commonName: 'v', notBefore, notAfter })).cert)
  t.notOk(isValidAt(parsed, new Date(notBefore.getTime() - 1000)))
  t.ok(isValidAt(parsed, notBefore))
  t.ok(isValidAt(parsed, notAfter))
  t.ok(isValidAt(parsed.x509, new Date('2030-06-01T00:00:00Z')), 'also takes an X509Certificate')
  t.notOk(isValidAt(parsed.x509, new Date(notAfter.getTime() + 1000)))
  t.notOk(isValidAt(parsed), 'not yet valid now')
})

t.test('pathLength (as the chain verifier reads it) and self-issued helpers', async (t) => {
  const root = await createCa({ commonName: 'R', pathLength: 2 })
  const inter = await createCa({ commonName: 'I', issuer: root })
  t.equal(readExtensions(new X509Certificate(root.cert).raw).pathLength, 2)
  t.equal(readExtensions(new X509Certificate(inter.cert).raw).pathLength, undefined)
  t.ok(isSelfIssued(new X509Certificate(root.cert)))
  t.notOk(isSelfIssued(new X509Certificate(inter.cert)))
  t.equal(inspectCertificate(new X509Certificate(inter.cert)).issuer, 'CN=R')
})

t.test('the DER extension reader finds critical extensions Portcullis does not apply, and fails closed', async (t) => {
  const limbo = JSON.parse(readFileSync('/work/shared/testdata/x509-limbo-2023-12-02.json', 'utf8')) as {
    testcases: Array<{ id: string; trusted_certs: string[] }>
  }
  const unknownCritical = limbo.testcases.find((c) => c.id === 'rfc5280::unknown-critical-extension-root')?.trusted_certs[0]
  if (unknownCritical === undefined) throw new Error('limbo case missing')
  const ext = readExtensions(new X509Certificate(unknownCritical).raw)
  t.equal(ext.ca, true)
  t.notOk(criticalExtensionsUnderstood(ext))
  const ours = readExtensions(new X509Certificate((await createCa({ commonName: 'ok', pathLength: 3 })).cert).raw)
  t.match(ours, { hasBasicConstraints: true, ca: true, pathLength: 3, keyUsage: 0b1100001 })
  t.ok(criticalExtensionsUnderstood(ours))
  t.notOk(criticalExtensionsUnderstood(readExtensions(Buffer.from([0x30, 0x82, 0xff]))), 'truncated DER')
})
