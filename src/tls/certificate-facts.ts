import { createHash, X509Certificate } from 'node:crypto'

/**
 * What the gateway says about a certificate in metrics and audit events: never the key, never the
 * whole PEM. The fingerprint is the lowercase hex SHA-256 of the DER, the same form as a CA id
 * (store/records.ts), so an operator can match it with `openssl x509 -fingerprint -sha256`.
 */
export interface CertificateFacts {
  fingerprint: string
  /** ISO 8601 UTC. */
  notAfter: string
  /** notAfter as Unix seconds (the expiry gauge's value). */
  notAfterSeconds: number
}

/** `kind` label of the certificate metrics (observability/metrics.ts). */
export const CERTIFICATE_KINDS = ['server', 'ca'] as const
export type CertificateKind = (typeof CERTIFICATE_KINDS)[number]

/**
 * Facts of the first certificate of a PEM bundle: a server's chain starts with its leaf (RFC 8446
 * §4.4.2: the sender's certificate comes first), which is the one that expires for the client.
 * Throws on a PEM that holds no certificate.
 */
export function certificateFacts(pem: string): CertificateFacts {
  return factsOf(new X509Certificate(pem))
}

export function factsOf(cert: X509Certificate): CertificateFacts {
  const notAfterMs = Date.parse(cert.validTo)
  if (Number.isNaN(notAfterMs)) throw new Error(`certificate notAfter "${cert.validTo}" does not parse`)
  return {
    fingerprint: createHash('sha256').update(cert.raw).digest('hex'),
    notAfter: new Date(notAfterMs).toISOString(),
    notAfterSeconds: Math.floor(notAfterMs / 1000),
  }
}
