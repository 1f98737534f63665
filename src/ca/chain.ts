/**
 * The data-path decision on an MQTT client certificate (DESIGN §1, §2): does the presented chain
 * lead to a CA registered on the instance, and is that CA ACTIVE?
 *
 * Which validator, and why (issue 10): this module only searches for the path and applies what
 * is Portcullis's own (registered anchors, their ACTIVE/INACTIVE status, best verdict, bounds).
 * RFC 5280 §6 path validation of the path it finds is OpenSSL's (openssl-verify.ts, run by
 * validate.ts, which also applies the client profile of profile.ts): name constraints and the
 * structural rules are not re-implemented here. pkijs's CertificateChainValidationEngine was
 * measured against x509-limbo and rejected: it loops without end on an intermediate cycle
 * (pathological::intermediate-cycle-*, a client-triggerable hang), ignores pathLenConstraint and
 * admitted every name-constraint violation of the suite (61/135 agreements, against 95/135 for
 * OpenSSL with the flags used). Node 20 has no in-process chain verification, hence the child
 * process; its cost (measured ≈20–35 ms per chain on a loaded 2-core machine, against ≈0.7 ms for
 * the search alone) is paid once per chain: proxy/verified-chains.ts answers a reconnect in < 1 µs.
 *
 * The TLS layer asks OpenSSL for the client certificate with rejectUnauthorized:false (so that a
 * refusal can be a CONNACK with a reason, and so that each instance has its own trust set); this
 * module makes the trust decision. It is pure: no store, no socket, no clock other than `now`.
 *
 * Rules, walking from the leaf up:
 * - the leaf must be within its validity and must not be able to sign certificates
 *   (basicConstraints cA=TRUE or keyUsage keyCertSign): a CA key is not a device identity. This is
 *   stricter than RFC 5280 (which allows a CA as the last certificate) and matches webpki;
 * - every certificate used must have only critical extensions Portcullis understands (RFC 5280
 *   §4.2; see der-extensions.ts) — name constraints count as understood because validate.ts has
 *   OpenSSL enforce them on every path this search admits;
 * - at each certificate, the registered CAs that issued it (issuer name matches, authority key id
 *   and keyUsage allow it — OpenSSL X509_check_issued — and the signature verifies with the CA's
 *   key) are its trust anchors. Roots and intermediates alike: a registered intermediate anchors a
 *   chain on its own (DESIGN §1 "a client presenting its chain up to a registered intermediate is
 *   admitted"). An ACTIVE anchor within validity admits; otherwise an INACTIVE anchor refuses with
 *   CA_INACTIVE and ends the walk there — a deactivated CA must not be routed around through
 *   presented copies of it (DESIGN §1 "clients whose certificates chain to it are refused");
 * - with no usable anchor, presented intermediates that issued the certificate are followed
 *   upward: each must be a CA (basicConstraints cA, keyCertSign if keyUsage is present), within
 *   validity, and the path must respect every pathLenConstraint (RFC 5280 §6.1.4 (l)–(m));
 *   presented copies of registered CAs are never treated as intermediates;
 * - of all the paths, the best verdict wins: admitted > CA_INACTIVE > CERT_EXPIRED >
 *   CLIENT_CERT_UNTRUSTED ("if both an ACTIVE and an INACTIVE registered CA could anchor it,
 *   ACTIVE wins"). An expired or not-yet-valid certificate anywhere on an otherwise trusted path
 *   gives CERT_EXPIRED (there is no separate not-yet-valid reason).
 * The search is bounded: at most MAX_DEPTH presented intermediates in a path and MAX_SIGNATURE_CHECKS
 * signature verifications per call, so a client sending a tangle of certificates costs little.
 */
import { X509Certificate } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import type { CaRecord } from '../store/records'
import { isSelfIssued, parseCertificatePem, printedName } from './certificate'
import { criticalExtensionsUnderstood, KEY_USAGE_KEY_CERT_SIGN, readExtensions } from './der-extensions'
import { trustDigest } from './trust-digest'

export const MAX_DEPTH = 8
export const MAX_SIGNATURE_CHECKS = 32
/** Presented certificates beyond this are ignored (the leaf plus a generous chain). */
export const MAX_PRESENTED = 16

export type ChainRefusal = 'CLIENT_CERT_MISSING' | 'CLIENT_CERT_UNTRUSTED' | 'CLIENT_CERT_PROFILE' | 'CERT_EXPIRED' | 'CA_INACTIVE'

export type ChainVerdict =
  | { ok: true; ca: CaRecord; leaf: X509Certificate; intermediates: X509Certificate[] }
  | { ok: false; reason: ChainRefusal }

interface TrustAnchor {
  record: CaRecord
  cert: X509Certificate
  publicKey: KeyObject
  notBeforeMs: number
  notAfterMs: number
  pathLength: number | undefined
}

/**
 * The registered CAs of one instance, parsed once. Build it when the instance's CA set changes and
 * reuse it for every connection; it is immutable.
 */
export class CaTrustIndex {
  /**
   * Ids of records that cannot anchor anything — unparsable, not a CA, or with a critical extension
   * not understood (registration refuses these; fail closed if one is in the store anyway). For the
   * caller to log.
   */
  readonly unusable: readonly string[]
  private readonly bySubject = new Map<string, TrustAnchor[]>()
  private readonly anchors: TrustAnchor[] = []
  private readonly fingerprints = new Set<string>()
  /** The records and rules this index decides under (trust-digest.ts). */
  readonly digest: string

  private constructor(records: readonly CaRecord[]) {
    this.digest = trustDigest(records)
    const unusable: string[] = []
    for (const record of records) {
      const cert = usableCaCertificate(record.pem)
      if (cert === undefined) {
        unusable.push(record.id)
        continue
      }
      const anchor: TrustAnchor = {
        record,
        cert,
        publicKey: cert.publicKey,
        notBeforeMs: Date.parse(cert.validFrom),
        notAfterMs: Date.parse(cert.validTo),
        pathLength: readExtensions(cert.raw).pathLength,
      }
      this.anchors.push(anchor)
      this.fingerprints.add(cert.fingerprint256)
      const subject = printedName(cert.subject)
      const list = this.bySubject.get(subject) ?? []
      list.push(anchor)
      this.bySubject.set(subject, list)
    }
    this.unusable = unusable
  }

  static build(records: readonly CaRecord[]): CaTrustIndex {
    return new CaTrustIndex(records)
  }

  get size(): number {
    return this.anchors.length
  }

  /** The registered CA record with this id (the DER's SHA-256), when it can anchor chains. */
  recordOf(caId: string): CaRecord | undefined {
    return this.anchors.find((a) => a.record.id === caId)?.record
  }

  /** The parsed certificate of the registered CA with this id, when it can anchor chains. */
  certificateOf(caId: string): X509Certificate | undefined {
    return this.anchors.find((a) => a.record.id === caId)?.cert
  }

  /** True when `cert` is (byte for byte) one of the registered CA certificates. */
  isRegistered(cert: X509Certificate): boolean {
    return this.fingerprints.has(cert.fingerprint256)
  }

  /**
   * Registered CAs whose name could have issued `cert`. Looked up by OpenSSL's printed name first;
   * when nothing matches, every anchor is a candidate, because two encodings of one name (e.g.
   * PrintableString vs UTF8String) print alike only after canonicalisation, which checkIssued does.
   */
  candidatesFor(cert: X509Certificate): readonly TrustAnchor[] {
    return this.bySubject.get(printedName(cert.issuer)) ?? this.anchors
  }
}

const RANK: Record<ChainRefusal | 'ok', number> = {
  // CLIENT_CERT_PROFILE comes only after the search (validate.ts); ranked as a trusted path.
  ok: 5, CA_INACTIVE: 4, CLIENT_CERT_PROFILE: 3, CERT_EXPIRED: 2, CLIENT_CERT_UNTRUSTED: 1, CLIENT_CERT_MISSING: 0,
}

/** Decides on a presented chain (leaf first). Pure; `now` is the validation time. */
export function checkClientChain(
  presented: readonly X509Certificate[],
  index: CaTrustIndex,
  now: Date = new Date(),
): ChainVerdict {
  const leaf = presented[0]
  if (leaf === undefined) return { ok: false, reason: 'CLIENT_CERT_MISSING' }
  if (!usableAsLeaf(leaf)) return { ok: false, reason: 'CLIENT_CERT_UNTRUSTED' }
  const search = new PathSearch(leaf, presented.slice(1, MAX_PRESENTED), index, now.getTime())
  if (!search.withinValidity(leaf)) return { ok: false, reason: 'CERT_EXPIRED' }
  return search.run()
}

interface Intermediate {
  cert: X509Certificate
  /** A CA certificate (OpenSSL X509_check_ca) whose critical extensions are all understood. */
  usable: boolean
  pathLength: number | undefined
}

class PathSearch {
  private readonly intermediates: Intermediate[]
  private signatureChecks = 0

  constructor(
    private readonly leaf: X509Certificate,
    presented: readonly X509Certificate[],
    private readonly index: CaTrustIndex,
    private readonly nowMs: number,
  ) {
    const seen = new Set<string>([leaf.fingerprint256])
    this.intermediates = []
    for (const cert of presented) {
      const fp = cert.fingerprint256
      if (seen.has(fp) || index.isRegistered(cert)) continue
      seen.add(fp)
      const ext = readExtensions(cert.raw)
      this.intermediates.push({
        cert,
        usable: cert.ca && criticalExtensionsUnderstood(ext),
        pathLength: ext.pathLength,
      })
    }
  }

  run(): ChainVerdict {
    return this.visit(this.leaf, [], 0)
  }

  withinValidity(cert: X509Certificate): boolean {
    return this.nowMs >= Date.parse(cert.validFrom) && this.nowMs <= Date.parse(cert.validTo)
  }

  /**
   * `path` holds the presented intermediates between the leaf and `cert` (cert included when it is
   * one); `counted` is how many of them are not self-issued, for pathLenConstraint.
   */
  private visit(cert: X509Certificate, path: readonly Intermediate[], counted: number): ChainVerdict {
    let best: ChainVerdict = { ok: false, reason: 'CLIENT_CERT_UNTRUSTED' }
    let pathExpired = false
    for (const entry of path) if (!this.withinValidity(entry.cert)) pathExpired = true

    const anchored = this.anchorVerdict(cert, counted)
    if (anchored !== undefined) {
      if (anchored.ok && !pathExpired) {
        return { ...anchored, intermediates: path.map((entry) => entry.cert) }
      }
      // A trusted path through an expired intermediate is CERT_EXPIRED; an untrusted one stays so.
      const trusted = anchored.ok || anchored.reason === 'CA_INACTIVE'
      const verdict: ChainVerdict = trusted && pathExpired ? { ok: false, reason: 'CERT_EXPIRED' } : anchored
      // A directly issuing INACTIVE CA is the operator's decision: no route around it.
      if (!verdict.ok && verdict.reason === 'CA_INACTIVE') return verdict
      best = better(best, verdict)
    }
    if (path.length >= MAX_DEPTH) return best

    for (const next of this.intermediates) {
      if (path.includes(next) || !next.usable) continue
      if (!this.issued(next.cert, next.cert.publicKey, cert)) continue
      if (!this.pathLengthAllows(next, counted)) continue
      const nextCounted = counted + (isSelfIssued(next.cert) ? 0 : 1)
      const verdict = this.visit(next.cert, [...path, next], nextCounted)
      best = better(best, verdict)
      if (best.ok) return best
    }
    return best
  }

  /** The verdict from the registered CAs that issued `cert`, or undefined when none did. */
  private anchorVerdict(cert: X509Certificate, counted: number): ChainVerdict | undefined {
    let best: ChainVerdict | undefined
    for (const anchor of this.index.candidatesFor(cert)) {
      if (!this.issued(anchor.cert, anchor.publicKey, cert)) continue
      const verdict = this.judgeAnchor(anchor, counted)
      best = best === undefined ? verdict : better(best, verdict)
      if (best.ok) return best
    }
    return best
  }

  private judgeAnchor(anchor: TrustAnchor, counted: number): ChainVerdict {
    if (anchor.pathLength !== undefined && counted > anchor.pathLength) {
      return { ok: false, reason: 'CLIENT_CERT_UNTRUSTED' }
    }
    if (this.nowMs < anchor.notBeforeMs || this.nowMs > anchor.notAfterMs) {
      return { ok: false, reason: 'CERT_EXPIRED' }
    }
    if (anchor.record.status !== 'ACTIVE') return { ok: false, reason: 'CA_INACTIVE' }
    return { ok: true, ca: anchor.record, leaf: this.leaf, intermediates: [] }
  }

  /** `issuer` issued `subject`: names/AKID/keyUsage agree (checkIssued) and the signature verifies. */
  private issued(issuer: X509Certificate, issuerKey: KeyObject, subject: X509Certificate): boolean {
    if (!subject.checkIssued(issuer)) return false
    if (this.signatureChecks >= MAX_SIGNATURE_CHECKS) return false
    this.signatureChecks += 1
    return subject.verify(issuerKey)
  }

  /** RFC 5280 §6.1.4 (l)–(m): a CA's pathLen bounds the non-self-issued intermediates below it. */
  private pathLengthAllows(entry: Intermediate, countedBelow: number): boolean {
    return entry.pathLength === undefined || countedBelow <= entry.pathLength
  }
}

function usableAsLeaf(leaf: X509Certificate): boolean {
  const ext = readExtensions(leaf.raw)
  if (ext.ca) return false
  if (ext.keyUsage !== undefined && (ext.keyUsage & KEY_USAGE_KEY_CERT_SIGN) !== 0) return false
  return criticalExtensionsUnderstood(ext)
}

/**
 * The certificate of a CA record, when it can anchor: it parses, is a CA (basicConstraints cA and
 * keyCertSign where keyUsage is present) and has no critical extension Portcullis does not apply.
 */
export function usableCaCertificate(pem: string): X509Certificate | undefined {
  let cert: X509Certificate
  try {
    cert = parseCertificatePem(pem).x509
  } catch {
    return undefined
  }
  return cert.ca && criticalExtensionsUnderstood(readExtensions(cert.raw)) ? cert : undefined
}

function better(a: ChainVerdict, b: ChainVerdict): ChainVerdict {
  return rank(b) > rank(a) ? b : a
}

function rank(v: ChainVerdict): number {
  return RANK[v.ok ? 'ok' : v.reason]
}

/**
 * The presented chain from `tlsSocket.getPeerX509Certificate()`: the leaf, then what else the
 * client sent, in the order it sent it (Node links each certificate to the next one through
 * `issuerCertificate`). No client certificate gives []. Bounded by MAX_PRESENTED, and a link back
 * to a certificate already walked ends the walk.
 */
export function presentedChain(leaf: X509Certificate | undefined): X509Certificate[] {
  const chain: X509Certificate[] = []
  const seen = new Set<X509Certificate>()
  for (let current = leaf; current !== undefined && !seen.has(current) && chain.length < MAX_PRESENTED; current = current.issuerCertificate) {
    seen.add(current)
    chain.push(current)
  }
  return chain
}
