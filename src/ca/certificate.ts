/**
 * Certificate parsing and inspection over node:crypto's X509Certificate (OpenSSL), which is what
 * the TLS layer hands the data path too. What Node does not expose (pathLenConstraint, keyUsage
 * bits, critical flags) comes from the small DER reader in der-extensions.ts.
 *
 * Ids (DESIGN §3): a CA's and a device certificate's `id` is the lowercase hex SHA-256 of its DER.
 */
import { createHash, X509Certificate } from 'node:crypto'
import { PortcullisError } from '../errors'

export interface ParsedCertificate {
  x509: X509Certificate
  /** Lowercase hex SHA-256 of the DER. */
  id: string
  /** Lowercase hex, as encoded (no leading-zero stripping). */
  serialNumber: string
  /** One line, X.509 order, RFC 2253 escaping: `C=DE, O=Acme, CN=device-1`. */
  subject: string
  issuer: string
  commonName: string | undefined
  /** ISO 8601 UTC. */
  notBefore: string
  notAfter: string
  /** Lowercase hex SHA-256 of the SubjectPublicKeyInfo DER. */
  spkiSha256: string
  /**
   * basicConstraints cA=true and, where keyUsage is present, keyCertSign set (RFC 5280 §4.2.1.3,
   * §4.2.1.9). This is exactly OpenSSL's X509_check_ca() == 1, which Node exposes as `ca`.
   */
  isCa: boolean
  /** Normalised PEM: one certificate, 64-column base64, trailing newline. */
  pem: string
}

export interface Validity {
  notBefore: string
  notAfter: string
}

const PEM_CERT = /^\s*-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END CERTIFICATE-----\s*$/

/**
 * Parses exactly one PEM certificate. Anything else — garbage, several certificates, a private key
 * pasted along, bytes after the DER — is refused with CERT_INVALID, so what gets stored is only
 * ever the one certificate that was checked.
 */
export function parseCertificatePem(pem: string): ParsedCertificate {
  if (typeof pem !== 'string') throw new PortcullisError('CERT_INVALID', 'the certificate must be a PEM string')
  const match = PEM_CERT.exec(pem)
  const body = match?.[1]
  if (body === undefined || body.includes('-----')) {
    throw new PortcullisError('CERT_INVALID', 'expected exactly one PEM certificate (-----BEGIN CERTIFICATE-----)')
  }
  const der = Buffer.from(body.replace(/[\r\n]/g, ''), 'base64')
  let cert: X509Certificate
  try {
    cert = new X509Certificate(der)
  } catch (err) {
    throw new PortcullisError('CERT_INVALID', 'the certificate could not be parsed', { cause: err })
  }
  if (!cert.raw.equals(der)) {
    throw new PortcullisError('CERT_INVALID', 'unexpected bytes after the certificate')
  }
  return inspectCertificate(cert)
}

/** Inspects an already-parsed certificate (e.g. one the TLS layer received). */
export function inspectCertificate(cert: X509Certificate): ParsedCertificate {
  const subjectLines = nameOf(cert.subject)
  return {
    x509: cert,
    id: certificateId(cert),
    serialNumber: cert.serialNumber.toLowerCase(),
    subject: subjectLines.join(', '),
    issuer: nameOf(cert.issuer).join(', '),
    commonName: commonNameOf(subjectLines),
    notBefore: toIso(cert.validFrom),
    notAfter: toIso(cert.validTo),
    spkiSha256: sha256Hex(cert.publicKey.export({ type: 'spki', format: 'der' })),
    isCa: cert.ca,
    pem: toPem(cert.raw),
  }
}

/** Lowercase hex SHA-256 of the DER: the certificate id everywhere (DESIGN §3). */
export function certificateId(cert: X509Certificate): string {
  return sha256Hex(cert.raw)
}

/** RFC 5280 §4.1.2.5: the validity period includes both notBefore and notAfter. */
export function isValidAt(cert: Validity | X509Certificate, date: Date = new Date()): boolean {
  const [from, to] = cert instanceof X509Certificate
    ? [Date.parse(cert.validFrom), Date.parse(cert.validTo)]
    : [Date.parse(cert.notBefore), Date.parse(cert.notAfter)]
  const t = date.getTime()
  return t >= from && t <= to
}

/** Self-issued (RFC 5280 §6.1): subject and issuer are the same name; such CAs do not count toward pathLen. */
export function isSelfIssued(cert: X509Certificate): boolean {
  return printedName(cert.subject) === printedName(cert.issuer)
}

/**
 * Node's printed name (one RDN per line). Node answers undefined, not '', for an empty name, its
 * typings notwithstanding.
 */
export function printedName(name: string | undefined): string {
  return name ?? ''
}

function nameOf(name: string | undefined): string[] {
  const printed = printedName(name)
  return printed === '' ? [] : printed.split('\n')
}

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

function toPem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? []
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`
}

/** OpenSSL prints both UTCTime and GeneralizedTime as `Mon DD HH:MM:SS YYYY GMT`. */
function toIso(opensslTime: string): string {
  const ms = Date.parse(opensslTime)
  if (Number.isNaN(ms)) throw new PortcullisError('CERT_INVALID', `unreadable validity time: ${opensslTime}`)
  return new Date(ms).toISOString()
}

/**
 * The most specific CN (the last one in X.509 order). Node prints one RDN per line with RFC 2253
 * escapes; a multi-valued RDN is `A=x + B=y` on one line.
 */
function commonNameOf(subjectLines: readonly string[]): string | undefined {
  let cn: string | undefined
  for (const line of subjectLines) {
    for (const ava of line.split(/(?<!\\) \+ /)) {
      if (ava.startsWith('CN=')) cn = unescapeRfc2253(ava.slice(3))
    }
  }
  return cn
}

/**
 * `\,` → `,`; `\XX` → that character. OpenSSL hex-escapes only control characters here
 * (ASN1_STRFLGS_ESC_CTRL; non-ASCII stays UTF-8), so each hex escape is one code point.
 */
function unescapeRfc2253(value: string): string {
  return value.replace(/\\(?:([0-9A-Fa-f]{2})|(.))/gsu, (_all, hex: string | undefined, ch: string | undefined) =>
    hex !== undefined ? String.fromCharCode(parseInt(hex, 16)) : (ch ?? ''))
}
