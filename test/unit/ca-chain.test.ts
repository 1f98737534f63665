import { X509Certificate } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { connect, createServer } from 'node:tls'
import type { TLSSocket } from 'node:tls'
import t from 'tap'
import { CaTrustIndex, checkClientChain, MAX_DEPTH, presentedChain } from '../../src/ca/chain'
import type { ChainVerdict } from '../../src/ca/chain'
import { createCa, createLeaf } from '../../src/ca/pki'
import type { KeyAndCert } from '../../src/ca/pki'
import type { CaRecord } from '../../src/store/records'
import { caRecord, DAY_MS, x509Of } from '../helpers/pki'
import type { Test } from '../helpers/services'

const past = { notBefore: new Date(Date.now() - 30 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) }
const future = { notBefore: new Date(Date.now() + DAY_MS), notAfter: new Date(Date.now() + 30 * DAY_MS) }

function check(presented: Array<KeyAndCert | string>, records: CaRecord[], now?: Date): ChainVerdict {
  return checkClientChain(x509Of(...presented), CaTrustIndex.build(records), now)
}

function refused(t: Test, verdict: ChainVerdict, reason: string, what?: string): void {
  t.same(verdict.ok ? { ok: true, ca: verdict.ca.subject } : verdict, { ok: false, reason }, what ?? reason)
}

function admitted(t: Test, verdict: ChainVerdict, ca: CaRecord, what?: string): void {
  t.same(verdict.ok ? { ok: true, ca: verdict.ca.id } : verdict, { ok: true, ca: ca.id }, what ?? 'admitted')
}

t.test('a client without a certificate is refused with CLIENT_CERT_MISSING', async (t) => {
  const root = await createCa({ commonName: 'Root' })
  refused(t, check([], [caRecord(root)]), 'CLIENT_CERT_MISSING')
})

t.test('admits a leaf issued directly by a registered ACTIVE root', async (t) => {
  const root = await createCa({ commonName: 'Root' })
  const leaf = await createLeaf({ commonName: 'd1', issuer: root, kind: 'client' })
  const record = caRecord(root)
  const verdict = check([leaf], [record])
  admitted(t, verdict, record)
  if (verdict.ok) {
    t.equal(verdict.leaf.fingerprint256, new X509Certificate(leaf.cert).fingerprint256)
    t.same(verdict.intermediates, [])
  }
})

t.test('refuses a leaf from an unregistered CA, and from an impostor CA with the same name but another key', async (t) => {
  const root = await createCa({ commonName: 'Root' })
  const other = await createCa({ commonName: 'Other' })
  const impostor = await createCa({ commonName: 'Root' })
  refused(t, check([await createLeaf({ commonName: 'x', issuer: other, kind: 'client' })], [caRecord(root)]), 'CLIENT_CERT_UNTRUSTED', 'other CA')
  const forged = await createLeaf({ commonName: 'x', issuer: impostor, kind: 'client' })
  refused(t, check([forged], [caRecord(root)]), 'CLIENT_CERT_UNTRUSTED', 'same name, other key')
  refused(t, check([forged, impostor], [caRecord(root)]), 'CLIENT_CERT_UNTRUSTED', 'impostor presented as intermediate')
  refused(t, check([await createLeaf({ commonName: 'x', issuer: root, kind: 'client' })], []), 'CLIENT_CERT_UNTRUSTED', 'no CA registered')
})

t.test('follows presented intermediates up to a registered root', async (t) => {
  const root = await createCa({ commonName: 'Root' })
  const inter = await createCa({ commonName: 'Inter', issuer: root })
  const inter2 = await createCa({ commonName: 'Inter 2', issuer: inter })
  const leaf = await createLeaf({ commonName: 'd', issuer: inter2, kind: 'client' })
  const record = caRecord(root)
  const verdict = check([leaf, inter2, inter], [record])
  admitted(t, verdict, record)
  if (verdict.ok) t.same(verdict.intermediates.map((c) => c.subject), ['CN=Inter 2', 'CN=Inter'])
  admitted(t, check([leaf, inter, inter2, root], [record]), record, 'any order, root included')
  refused(t, check([leaf, inter2], [record]), 'CLIENT_CERT_UNTRUSTED', 'a missing intermediate breaks the chain')
  refused(t, check([leaf], [record]), 'CLIENT_CERT_UNTRUSTED', 'leaf alone')
})

t.test('a registered intermediate is a trust anchor on its own', async (t) => {
  const root = await createCa({ commonName: 'Root' })
  const inter = await createCa({ commonName: 'Inter', issuer: root })
  const leaf = await createLeaf({ commonName: 'd', issuer: inter, kind: 'client' })
  const record = caRecord(inter)
  admitted(t, check([leaf], [record]), record, 'leaf only')
  admitted(t, check([leaf, inter], [record]), record, 'chain up to the intermediate')
  admitted(t, check([leaf, inter, root], [record]), record, 'chain up to an unregistered root')
})

t.test('expired or not-yet-valid certificates give CERT_EXPIRED', async (t) => {
  const root = await createCa({ commonName: 'Root' })
  const record = caRecord(root)
  refused(t, check([await createLeaf({ commonName: 'old', issuer: root, kind: 'client', ...past })], [record]), 'CERT_EXPIRED', 'expired leaf')
  refused(t, check([await createLeaf({ commonName: 'new', issuer: root, kind: 'client', ...future })], [record]), 'CERT_EXPIRED', 'leaf not yet valid')

  const oldInter = await createCa({ commonName: 'Inter', issuer: root, ...past })
  const leaf = await createLeaf({ commonName: 'd', issuer: oldInter, kind: 'client' })
  refused(t, check([leaf, oldInter], [record]), 'CERT_EXPIRED', 'expired presented intermediate')

  const oldRoot = await createCa({ commonName: 'Old Root', ...past })
  const underOld = await createLeaf({ commonName: 'd', issuer: oldRoot, kind: 'client' })
  refused(t, check([underOld], [caRecord(oldRoot)]), 'CERT_EXPIRED', 'expired registered CA')
})

t.test('an expired intermediate does not spoil a valid alternative path', async (t) => {
  const root = await createCa({ commonName: 'Root' })
  const oldInter = await createCa({ commonName: 'Inter', issuer: root, ...past })
  const renewed = await createCa({ commonName: 'Inter', issuer: root, key: oldInter.key })
  const leaf = await createLeaf({ commonName: 'd', issuer: renewed, kind: 'client' })
  const record = caRecord(root)
  admitted(t, check([leaf, oldInter, renewed], [record]), record)
})

t.test('the validation time is a parameter', async (t) => {
  const root = await createCa({ commonName: 'Root' })
  const leaf = await createLeaf({ commonName: 'd', issuer: root, kind: 'client' })
  refused(t, check([leaf], [caRecord(root)], new Date(Date.now() + 20 * 365 * DAY_MS)), 'CERT_EXPIRED')
})

t.test('a chain ending at an INACTIVE CA is refused with CA_INACTIVE', async (t) => {
  const root = await createCa({ commonName: 'Root' })
  const leaf = await createLeaf({ commonName: 'd', issuer: root, kind: 'client' })
  refused(t, check([leaf], [caRecord(root, 'INACTIVE')]), 'CA_INACTIVE')
})

t.test('when an ACTIVE and an INACTIVE registered CA both anchor the chain, ACTIVE wins', async (t) => {
  const old = await createCa({ commonName: 'Root' })
  const reissued = await createCa({ commonName: 'Root', key: old.key })
  const leaf = await createLeaf({ commonName: 'd', issuer: old, kind: 'client' })
  const active = caRecord(reissued, 'ACTIVE')
  admitted(t, check([leaf], [caRecord(old, 'INACTIVE'), active]), active)
  admitted(t, check([leaf], [active, caRecord(old, 'INACTIVE')]), active, 'order of records does not matter')

  // Two presented cross-signed intermediates, one under an INACTIVE root and one under an ACTIVE one.
  const rootA = await createCa({ commonName: 'Root A' })
  const rootB = await createCa({ commonName: 'Root B' })
  const viaA = await createCa({ commonName: 'Inter', issuer: rootA })
  const viaB = await createCa({ commonName: 'Inter', issuer: rootB, key: viaA.key })
  const device = await createLeaf({ commonName: 'd', issuer: viaA, kind: 'client' })
  const recordB = caRecord(rootB)
  admitted(t, check([device, viaA, viaB], [caRecord(rootA, 'INACTIVE'), recordB]), recordB)
})

t.test('a deactivated registered intermediate cannot be routed around through its presented copy', async (t) => {
  const root = await createCa({ commonName: 'Root' })
  const inter = await createCa({ commonName: 'Inter', issuer: root })
  const leaf = await createLeaf({ commonName: 'd', issuer: inter, kind: 'client' })
  const records = [caRecord(root), caRecord(inter, 'INACTIVE')]
  refused(t, check([leaf, inter], records), 'CA_INACTIVE', 'same certificate presented')
  const copy = await createCa({ commonName: 'Inter', issuer: root, key: inter.key })
  refused(t, check([leaf, copy], records), 'CA_INACTIVE', 're-issued copy presented')
})

t.test('a leaf that can sign certificates is not a device identity', async (t) => {
  const root = await createCa({ commonName: 'Root' })
  const record = caRecord(root)
  const caLeaf = await createCa({ commonName: 'Sub CA', issuer: root })
  refused(t, check([caLeaf], [record]), 'CLIENT_CERT_UNTRUSTED', 'basicConstraints cA=TRUE')
  const caNoSign = await createCa({ commonName: 'Sub CA 2', issuer: root, keyUsage: ['digitalSignature'] })
  refused(t, check([caNoSign], [record]), 'CLIENT_CERT_UNTRUSTED', 'cA=TRUE without keyCertSign')
  const signer = await createCa({ commonName: 'Signer', issuer: root, ca: false, keyUsage: ['digitalSignature', 'keyCertSign'] })
  refused(t, check([signer], [record]), 'CLIENT_CERT_UNTRUSTED', 'cA=FALSE with keyCertSign')
  refused(t, check([root], [record]), 'CLIENT_CERT_UNTRUSTED', 'the registered CA itself as the leaf')
})

t.test('presented intermediates must be CA certificates allowed to sign certificates', async (t) => {
  const root = await createCa({ commonName: 'Root' })
  const record = caRecord(root)
  const notCa = await createCa({ commonName: 'Not CA', issuer: root, ca: false, keyUsage: ['digitalSignature'] })
  refused(t, check([await createLeaf({ commonName: 'd', issuer: notCa, kind: 'client' }), notCa], [record]), 'CLIENT_CERT_UNTRUSTED', 'cA=FALSE')
  const noSign = await createCa({ commonName: 'No Sign', issuer: root, keyUsage: ['digitalSignature', 'cRLSign'] })
  refused(t, check([await createLeaf({ commonName: 'd', issuer: noSign, kind: 'client' }), noSign], [record]), 'CLIENT_CERT_UNTRUSTED', 'keyUsage without keyCertSign')
})

t.test('pathLenConstraint is enforced on registered CAs and presented intermediates', async (t) => {
  const strictRoot = await createCa({ commonName: 'Strict Root', pathLength: 0 })
  const inter = await createCa({ commonName: 'Inter', issuer: strictRoot })
  const leaf = await createLeaf({ commonName: 'd', issuer: inter, kind: 'client' })
  refused(t, check([leaf, inter], [caRecord(strictRoot)]), 'CLIENT_CERT_UNTRUSTED', 'root pathLen 0 with an intermediate')
  admitted(t, check([await createLeaf({ commonName: 'd', issuer: strictRoot, kind: 'client' })], [caRecord(strictRoot)]), caRecord(strictRoot), 'leaf does not count')

  const root = await createCa({ commonName: 'Root', pathLength: 1 })
  const i1 = await createCa({ commonName: 'I1', issuer: root, pathLength: 0 })
  const i2 = await createCa({ commonName: 'I2', issuer: i1 })
  const deep = await createLeaf({ commonName: 'd', issuer: i2, kind: 'client' })
  refused(t, check([deep, i2, i1], [caRecord(root)]), 'CLIENT_CERT_UNTRUSTED', 'intermediate pathLen 0 with a sub-CA')
  admitted(t, check([await createLeaf({ commonName: 'd', issuer: i1, kind: 'client' }), i1], [caRecord(root)]), caRecord(root), 'within pathLen 1')
})

t.test('the walk is bounded in depth and survives cycles, duplicates and unrelated certificates', async (t) => {
  const root = await createCa({ commonName: 'Root' })
  const chain: KeyAndCert[] = []
  let issuer = root
  for (let i = 0; i <= MAX_DEPTH; i++) {
    issuer = await createCa({ commonName: `I${i}`, issuer })
    chain.unshift(issuer)
  }
  const leaf = await createLeaf({ commonName: 'd', issuer, kind: 'client' })
  const record = caRecord(root)
  refused(t, check([leaf, ...chain], [record]), 'CLIENT_CERT_UNTRUSTED', `${MAX_DEPTH + 1} intermediates`)
  const [, ...shorter] = chain
  const shortLeaf = await createLeaf({ commonName: 'd', issuer: shorter[0] as KeyAndCert, kind: 'client' })
  admitted(t, check([shortLeaf, ...shorter], [record]), record, `${MAX_DEPTH} intermediates`)

  const a = await createCa({ commonName: 'A' })
  const b = await createCa({ commonName: 'B', issuer: a })
  const aByB = await createCa({ commonName: 'A', issuer: b, key: a.key })
  const inCycle = await createLeaf({ commonName: 'd', issuer: a, kind: 'client' })
  refused(t, check([inCycle, aByB, b, aByB, b], [record]), 'CLIENT_CERT_UNTRUSTED', 'cycle A→B→A')

  const direct = await createLeaf({ commonName: 'd', issuer: root, kind: 'client' })
  const noise = await createCa({ commonName: 'Noise' })
  admitted(t, check([direct, noise, direct, noise, root], [record]), record, 'noise and duplicates')
})

t.test('the trust index skips records that cannot anchor anything', async (t) => {
  const root = await createCa({ commonName: 'Root' })
  const notCa = await createCa({ commonName: 'Not CA', ca: false })
  const garbage: CaRecord = { ...caRecord(root), id: 'garbage', pem: 'not a certificate' }
  const index = CaTrustIndex.build([garbage, caRecord(notCa), caRecord(root)])
  t.equal(index.size, 1)
  t.same([...index.unusable].sort(), ['garbage', caRecord(notCa).id].sort())
  const leaf = await createLeaf({ commonName: 'd', issuer: notCa, kind: 'client' })
  t.same(checkClientChain(x509Of(leaf), index), { ok: false, reason: 'CLIENT_CERT_UNTRUSTED' })
})

t.test('presentedChain follows issuerCertificate links and stops at a link back', async (t) => {
  // The walk alone: Node's X509Certificate links are read-only getters, so plain objects stand in.
  const root: { subject: string; issuerCertificate?: unknown } = { subject: 'CN=Root' }
  root.issuerCertificate = root
  const leaf = { subject: 'CN=d', issuerCertificate: root }
  const chain = presentedChain(leaf as unknown as X509Certificate)
  t.same(chain.map((c) => c.subject), ['CN=d', 'CN=Root'])
  t.same(presentedChain(undefined), [])
})

t.test('decides on the chain a real TLS client sends (rejectUnauthorized:false on the server)', async (t) => {
  const serverCa = await createCa({ commonName: 'Server CA' })
  const server = await createLeaf({ commonName: 'localhost', issuer: serverCa, kind: 'server', dnsNames: ['localhost'] })
  const root = await createCa({ commonName: 'Device Root' })
  const inter = await createCa({ commonName: 'Device Inter', issuer: root })
  const device = await createLeaf({ commonName: 'tls-device', issuer: inter, kind: 'client' })
  const index = CaTrustIndex.build([caRecord(root)])

  const verdicts: ChainVerdict[] = []
  const presentedSubjects: string[] = []
  const srv = createServer({ key: server.key, cert: server.cert, requestCert: true, rejectUnauthorized: false }, (socket: TLSSocket) => {
    const chain = presentedChain(socket.getPeerX509Certificate())
    presentedSubjects.push(chain.map((c) => c.subject).join(' < '))
    verdicts.push(checkClientChain(chain, index))
    socket.end()
  })
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  t.teardown(() => srv.close())
  const { port } = srv.address() as AddressInfo
  const dial = (opts: { key?: string; cert?: string }): Promise<void> => new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: serverCa.cert, ...opts })
    socket.on('close', () => resolve())
    socket.on('error', reject)
    socket.resume()
  })
  await dial({ key: device.key, cert: device.cert + inter.cert })
  await dial({ key: device.key, cert: device.cert })
  await dial({})
  t.same(verdicts.map((v) => (v.ok ? `ok:${v.leaf.subject}` : v.reason)), ['ok:CN=tls-device', 'CLIENT_CERT_UNTRUSTED', 'CLIENT_CERT_MISSING'])
  // Every certificate the client sent, leaf first, and nothing it did not send.
  t.same(presentedSubjects, ['CN=tls-device < CN=Device Inter', 'CN=tls-device', ''])
})
