import t from 'tap'
import fc from 'fast-check'
import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { createCa, type KeyUsageName } from '../../src/ca/pki'
import { criticalExtensionsUnderstood, readExtensions } from '../../src/ca/der-extensions'

/**
 * Properties of the in-place DER reader for basicConstraints, keyUsage and critical extensions
 * (RFC 5280 §4.1, §4.2.1.3, §4.2.1.9), which reads client certificates on the data path: on
 * arbitrary or corrupted DER it never throws and fails closed (a malformed structure reports a
 * critical extension nobody understands), and on certificates the test issues it reads back
 * exactly the cA flag, pathLenConstraint and keyUsage bits they were made with.
 */
const USAGES: readonly KeyUsageName[] = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly']
const BIT: Record<string, number> = Object.fromEntries(USAGES.map((u, i) => [u, 1 << i]))

const shape = fc.record({
  ca: fc.boolean(),
  pathLength: fc.option(fc.integer({ min: 0, max: 1_000_000 }), { nil: undefined }),
  keyUsage: fc.option(fc.subarray([...USAGES], { minLength: 1 }), { nil: undefined }),
})

function der(pem: string): Buffer {
  return Buffer.from(new X509Certificate(pem).raw)
}

t.test('reads back the cA flag, pathLenConstraint and keyUsage bits of issued certificates; both are critical and understood', async (t) => {
  await fc.assert(fc.asyncProperty(shape, async ({ ca, pathLength, keyUsage }) => {
    const cert = await createCa({ commonName: 'prop', ca, ...(pathLength !== undefined && ca ? { pathLength } : {}), keyUsage: keyUsage ?? false })
    const ext = readExtensions(der(cert.cert))
    assert.equal(ext.hasBasicConstraints, true)
    assert.equal(ext.ca, ca)
    assert.equal(ext.pathLength, ca ? pathLength : undefined)
    assert.equal(ext.keyUsage, keyUsage === undefined ? undefined : keyUsage.reduce((v, u) => v | BIT[u]!, 0))
    assert.deepEqual(ext.critical.sort(), keyUsage === undefined ? ['2.5.29.19'] : ['2.5.29.15', '2.5.29.19'])
    assert.ok(criticalExtensionsUnderstood(ext))
  }), { numRuns: 40 })
  t.pass('40 certificates')
})

t.test('never throws on arbitrary or corrupted DER, and an unreadable structure is unusable (fail closed)', async (t) => {
  const base = der((await createCa({ commonName: 'base', pathLength: 3 })).cert)
  const corrupted = fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }).map((edits) => {
    const copy = Buffer.from(base)
    for (const [at, value] of edits) copy[at] = value
    return copy
  })
  const truncated = fc.nat(base.length - 1).map((n) => base.subarray(0, n))
  fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)), corrupted, truncated), (input) => {
    const ext = readExtensions(input)
    if (ext.critical.includes('malformed')) assert.equal(criticalExtensionsUnderstood(ext), false)
    assert.ok(ext.pathLength === undefined || (Number.isInteger(ext.pathLength) && ext.pathLength >= 0))
  }), { numRuns: 300 })
  t.ok(readExtensions(base.subarray(0, 40)).critical.includes('malformed'), 'a truncated certificate is malformed')
})
