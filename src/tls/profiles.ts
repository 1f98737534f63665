import { constants } from 'node:crypto'
import type { SecureContextOptions } from 'node:tls'

/**
 * Server-side TLS profiles (DESIGN §4 "Limits and TLS", config `tls.profile`), after Mozilla's
 * server-side TLS guidelines (version 5.7):
 *
 * - `intermediate` (default): TLS 1.2 and 1.3. TLS 1.2 only with ECDHE key exchange and an AEAD
 *   cipher (AES-GCM, ChaCha20-Poly1305): no CBC (Lucky 13, padding oracles), no static RSA key
 *   exchange (no forward secrecy), no CCM_8 (64-bit tag). Mozilla also lists DHE suites; the
 *   contract names ECDHE only, so none are offered (no finite-field parameters to get wrong).
 * - `modern`: TLS 1.3 only.
 *
 * Both: the TLS 1.3 suites without CCM (RFC 8446 §9.1 mandates only AES-128-GCM), the server's
 * cipher order (a client cannot steer to its weakest common suite), and no renegotiation.
 */
export const TLS_PROFILE_NAMES = ['intermediate', 'modern'] as const
export type TlsProfileName = (typeof TLS_PROFILE_NAMES)[number]

const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256']

/** OpenSSL names of the TLS 1.2 suites: ECDHE, AEAD, in the server's order of preference. */
const TLS12_ECDHE_AEAD = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
]

/** Key exchange groups, Mozilla's order. */
const GROUPS = 'X25519:prime256v1:secp384r1'

/**
 * SSL_OP_NO_RENEGOTIATION: OpenSSL answers a client's renegotiating ClientHello (TLS 1.2) with a
 * no_renegotiation alert and starts no handshake, so a client cannot make the gateway redo the
 * expensive part of a handshake at will (CVE-2011-1473), before or after the splice. TLS 1.3 has
 * no renegotiation at all (RFC 8446 §4.1.2 forbids a second ClientHello).
 */
const SECURE_OPTIONS = constants.SSL_OP_NO_RENEGOTIATION | constants.SSL_OP_CIPHER_SERVER_PREFERENCE

type ProfileOptions = Required<Pick<SecureContextOptions, 'minVersion' | 'maxVersion' | 'ciphers' | 'ecdhCurve' | 'honorCipherOrder' | 'secureOptions'>>

const PROFILES: Readonly<Record<TlsProfileName, ProfileOptions>> = {
  intermediate: {
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    ciphers: [...TLS13_SUITES, ...TLS12_ECDHE_AEAD].join(':'),
    ecdhCurve: GROUPS,
    honorCipherOrder: true,
    secureOptions: SECURE_OPTIONS,
  },
  modern: {
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    ciphers: TLS13_SUITES.join(':'),
    ecdhCurve: GROUPS,
    honorCipherOrder: true,
    secureOptions: SECURE_OPTIONS,
  },
}

/** The secure-context options of a profile (a fresh object: callers may spread it). */
export function tlsProfileOptions(name: TlsProfileName): ProfileOptions {
  return { ...PROFILES[name] }
}
