/**
 * x509-limbo (C2SP/x509-limbo 2023-12-02, Apache-2.0; test/fixtures/x509-limbo-2023-12-02.json,
 * see /work/shared/testdata/README.md) through the decision the data path takes
 * (validateClientChain: path search, client profile, OpenSSL RFC 5280 validation):
 * `trusted_certs` become ACTIVE registered CAs, `untrusted_intermediates` the presented chain
 * after the peer certificate, `validation_time` the clock.
 *
 * Which cases: this release labels every case `validation_kind: SERVER` (CLIENT cases came later),
 * so excluding SERVER literally would leave nothing. What a client-certificate check cannot
 * share with a server one is the server-name match: the `webpki::san::*` cases (whose verdict is
 * about `expected_peer_name`) are excluded, and so are the five whose verdict is a server EKU
 * rule (serverEkuRule). Every other case runs; where the gateway's verdict
 * differs, the case is on DIFFERENCES with a one-line reason. No entry may be an accept of what
 * the suite refuses for EKU, basic constraints, name constraints, weak keys or weak signatures
 * (checked below).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { CaTrustIndex } from '../../src/ca/chain'
import { validateClientChain } from '../../src/ca/validate'
import { caRecord, x509Of } from '../helpers/pki'

interface LimboCase {
  id: string
  features: string[] | null
  extended_key_usage: string[] | null
  validation_kind: string
  trusted_certs: string[]
  untrusted_intermediates: string[]
  peer_certificate: string
  validation_time: string | null
  expected_result: 'SUCCESS' | 'FAILURE'
}

const SERVER_NAME_CASES = /^webpki::san::/

/**
 * Cases whose verdict is defined by a SERVER-kind EKU rule: the case asks for serverAuth
 * (`extended_key_usage`) or webpki's server EKU profile (`pedantic-webpki-eku`: EKU required,
 * anyExtendedKeyUsage refused). A client check applies DESIGN §4 instead (clientAuth or
 * anyExtendedKeyUsage, no EKU is fine), which test/unit/ca-validate.test.ts and the integration
 * test cover.
 */
function serverEkuRule(tc: LimboCase): boolean {
  return (tc.extended_key_usage ?? []).length > 0 || (tc.features ?? []).includes('pedantic-webpki-eku')
}

const SERVER_AUTH_ONLY = 'the leaf is a server certificate (EKU serverAuth only): a client check refuses it CLIENT_CERT_PROFILE (RFC 5280 §4.2.1.12)'

/** Case id → [what the gateway answers, why it differs from the suite]. */
const DIFFERENCES: Record<string, ['SUCCESS' | 'FAILURE', string]> = {
  'pathlen::ee-with-intermediate-pathlen-0': ['FAILURE', SERVER_AUTH_ONLY],
  'pathlen::ee-with-intermediate-pathlen-1': ['FAILURE', SERVER_AUTH_ONLY],
  'pathlen::ee-with-intermediate-pathlen-2': ['FAILURE', SERVER_AUTH_ONLY],
  'pathlen::intermediate-pathlen-may-increase': ['FAILURE', SERVER_AUTH_ONLY],
  'pathlen::self-issued-certs-pathlen': ['FAILURE', SERVER_AUTH_ONLY],
  'pathlen::max-chain-depth-0': ['FAILURE', SERVER_AUTH_ONLY],
  'pathlen::max-chain-depth-1': ['FAILURE', SERVER_AUTH_ONLY],
  'pathlen::max-chain-depth-1-self-issued': ['FAILURE', SERVER_AUTH_ONLY],
  'pathological::multiple-chains-expired-intermediate': ['FAILURE', SERVER_AUTH_ONLY],
  'rfc5280::aki::self-signed-root-missing-aki': ['FAILURE', SERVER_AUTH_ONLY],
  'rfc5280::nc::permitted-dns-match': ['FAILURE', SERVER_AUTH_ONLY],
  'rfc5280::nc::permitted-dns-match-more': ['FAILURE', SERVER_AUTH_ONLY],
  'rfc5280::nc::permitted-ipv4-match': ['FAILURE', SERVER_AUTH_ONLY],
  'rfc5280::nc::permitted-ipv6-match': ['FAILURE', SERVER_AUTH_ONLY],
  'rfc5280::nc::permitted-dn-match': ['FAILURE', SERVER_AUTH_ONLY],
  'rfc5280::nc::permitted-self-issued': ['FAILURE', SERVER_AUTH_ONLY],
  'rfc5280::nc::permitted-different-constraint-type': ['FAILURE', SERVER_AUTH_ONLY],
  'rfc5280::nc::excluded-different-constraint-type': ['FAILURE', SERVER_AUTH_ONLY],
  'rfc5280::ee-aia': ['FAILURE', SERVER_AUTH_ONLY],
  'rfc5280::no-keyusage': ['FAILURE', SERVER_AUTH_ONLY],
  'rfc5280::no-basicconstraints': ['FAILURE', SERVER_AUTH_ONLY],
  'webpki::nc::permitted-dns-match-noncritical': ['FAILURE', SERVER_AUTH_ONLY],
  'online::google.com': ['FAILURE', SERVER_AUTH_ONLY],
  'online::storage.googleapis.com': ['FAILURE', SERVER_AUTH_ONLY],
  'online::apple.com': ['FAILURE', SERVER_AUTH_ONLY],
  'pathlen::validation-ignores-pathlen-in-leaf': ['FAILURE', 'the leaf is a CA (cA=TRUE, keyCertSign): not a device identity, stricter than RFC 5280 §4.2.1.9 like webpki'],
  'webpki::v1-cert': ['SUCCESS', 'OpenSSL 3.0 accepts an X.509 v1 end-entity certificate (RFC 5280 §4.1.2.1 allows v1); webpki refuses v1'],
}

const FORBIDDEN_ACCEPTS = /eku|basicconstraints|basic-constraints|ca-without-ca-bit|::nc::|pathlen|p192|dsa|signature-algorithm|ku-keycertsign/

t.test('agrees with x509-limbo on every client-applicable case, but for the listed differences', async (t) => {
  const file = join(__dirname, '..', 'fixtures', 'x509-limbo-2023-12-02.json')
  const cases = (JSON.parse(readFileSync(file, 'utf8')) as { testcases: LimboCase[] }).testcases
  t.equal(cases.length, 135, 'the 2023-12-02 release')
  t.ok(cases.every((tc) => tc.validation_kind === 'SERVER'), 'every case of this release is SERVER kind (see the header)')
  const seen = new Set<string>()
  for (const tc of cases) {
    if (SERVER_NAME_CASES.test(tc.id) || serverEkuRule(tc)) continue
    seen.add(tc.id)
    const index = CaTrustIndex.build(tc.trusted_certs.map((pem) => caRecord(pem)))
    const now = tc.validation_time === null ? new Date() : new Date(tc.validation_time)
    const verdict = await validateClientChain(x509Of(tc.peer_certificate, ...tc.untrusted_intermediates), index, now)
    const got = verdict.ok ? 'SUCCESS' : 'FAILURE'
    const known = DIFFERENCES[tc.id]
    const why = verdict.ok ? '' : ` (${verdict.reason}${verdict.detail !== undefined ? `: ${verdict.detail}` : ''})`
    if (known === undefined) t.equal(got, tc.expected_result, `${tc.id}${why}`)
    else t.equal(got, known[0], `${tc.id} differs from the suite: ${known[1]}${why}`)
    if (known?.[1] === SERVER_AUTH_ONLY) t.equal(verdict.ok ? 'ok' : verdict.reason, 'CLIENT_CERT_PROFILE', `${tc.id}: refused for its EKU`)
  }
  t.ok(seen.size >= 100, `${seen.size} cases ran`)
  for (const [id, [got]] of Object.entries(DIFFERENCES)) {
    t.ok(seen.has(id), `${id} is a case that runs`)
    t.notOk(got === 'SUCCESS' && FORBIDDEN_ACCEPTS.test(id), `${id}: no accepted difference about EKU, constraints, keys or signatures`)
  }
})
