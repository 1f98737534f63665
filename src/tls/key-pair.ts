import { createPrivateKey, X509Certificate } from 'node:crypto'
import type { KeyPair } from '../proxy/tls-contexts'

/**
 * Checks that a server key pair is a certificate and the private key of that very certificate,
 * and answers the parsed leaf. A pair that fails here would fail every handshake instead
 * (OpenSSL: "key values mismatch"), so it is refused where it is read: at start, on a file change
 * (a renewal written cert first, key second is refused until both are there), on a reload.
 * The message names neither the key nor its bytes.
 */
export function checkKeyPair(pair: KeyPair): X509Certificate {
  const cert = new X509Certificate(pair.cert)
  const key = createPrivateKey(pair.key)
  if (!cert.checkPrivateKey(key)) throw new Error('the private key does not belong to the certificate')
  return cert
}
