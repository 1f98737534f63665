/**
 * Certificate generation: ECDSA P-256 keys, SHA-256 signatures, X.509 v3 with the extensions a
 * verifier looks at (basicConstraints, keyUsage, extKeyUsage, SAN, SKI/AKI, nameConstraints).
 * Tests can ask for what the data path must refuse (RSA-1024 keys, SHA-1 signatures, an EKU
 * without clientAuth) through the options below; the defaults are what a device should have.
 *
 * Used by the `dev-pki` CLI command (DESIGN §3), by the operator-side step of CA registration
 * (the verification certificate, DESIGN §1), by tests and by benchmarks. Nothing here runs on the
 * data path. Every item comes back as PEM: `cert` (certificate) and `key` (PKCS#8 private key).
 */
import 'reflect-metadata' // @peculiar/x509 resolves its algorithm providers through tsyringe
import { createHash, createPublicKey, randomBytes, webcrypto } from 'node:crypto'
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as x509 from '@peculiar/x509'

const subtle = webcrypto.subtle
const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const
/** RSA keys (tests only: RSA-1024 must be refused, RSA-2048 admitted). */
const RSA_ALGORITHM = { name: 'RSASSA-PKCS1-v1_5', publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' } as const
const DAY_MS = 24 * 60 * 60 * 1000
/** Backdating tolerates small clock skew between the machine that issues and the one that checks. */
const BACKDATE_MS = 5 * 60 * 1000

x509.cryptoProvider.set(webcrypto)

type KeyPair = webcrypto.CryptoKeyPair

export interface KeyAndCert {
  /** PEM certificate. */
  cert: string
  /** PKCS#8 PEM private key. */
  key: string
}

export type KeyUsageName = keyof typeof x509.KeyUsageFlags
/** The new certificate's key: ECDSA P-256 (default) or RSA of the given size. */
export type KeyKind = 'p256' | 'rsa1024' | 'rsa2048'
/** Hash the issuer signs with; SHA-1 exists only to test that it is refused. */
export type SignatureHash = 'SHA-256' | 'SHA-1'

/** RFC 5280 §4.2.1.10 name constraints (dNSName subtrees), critical by default as §4.2.1.10 requires. */
export interface NameConstraintsOption {
  permittedDns?: readonly string[]
  excludedDns?: readonly string[]
  critical?: boolean
}

/** Extended key usages by name (RFC 5280 §4.2.1.12). */
export const EKU_OIDS = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  any: '2.5.29.37.0',
} as const
export type EkuName = keyof typeof EKU_OIDS

export interface CreateCaOptions {
  commonName: string
  notBefore?: Date
  notAfter?: Date
  /** Signs the new CA (an intermediate); absent = self-signed root. */
  issuer?: KeyAndCert
  /** basicConstraints pathLenConstraint. */
  pathLength?: number
  /** basicConstraints cA; false makes an end-entity certificate shaped like a CA (for tests). */
  ca?: boolean
  /** keyUsage bits; false omits the extension. Default keyCertSign, cRLSign, digitalSignature. */
  keyUsage?: readonly KeyUsageName[] | false
  /** Reuse an existing PKCS#8 PEM key (a re-issued CA: same name and key, new certificate). */
  key?: string
  nameConstraints?: NameConstraintsOption
  signatureHash?: SignatureHash
}

export interface CreateLeafOptions {
  commonName: string
  issuer: KeyAndCert
  kind: 'server' | 'client'
  dnsNames?: readonly string[]
  ipAddresses?: readonly string[]
  notBefore?: Date
  notAfter?: Date
  key?: string
  /** extKeyUsage; false omits the extension. Default: clientAuth or serverAuth after `kind`. */
  eku?: readonly EkuName[] | false
  keyKind?: KeyKind
  signatureHash?: SignatureHash
}

export interface CreateVerificationOptions {
  registrationCode: string
  ca: KeyAndCert
  notBefore?: Date
  notAfter?: Date
}

export async function createCa(opts: CreateCaOptions): Promise<KeyAndCert> {
  const keys = opts.key === undefined ? await generateKeyPair() : await importKeyPair(opts.key)
  const notBefore = opts.notBefore ?? new Date(Date.now() - BACKDATE_MS)
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(opts.ca ?? true, opts.pathLength, true),
  ]
  const usages = opts.keyUsage ?? (['keyCertSign', 'cRLSign', 'digitalSignature'] as const)
  if (usages !== false) extensions.push(new x509.KeyUsagesExtension(keyUsageFlags(usages), true))
  if (opts.nameConstraints !== undefined) extensions.push(nameConstraintsExtension(opts.nameConstraints))
  return issue({
    subject: dn(opts.commonName),
    keys,
    issuer: opts.issuer,
    notBefore,
    notAfter: opts.notAfter ?? new Date(notBefore.getTime() + 10 * 365 * DAY_MS),
    extensions,
    signatureHash: opts.signatureHash,
  })
}

export async function createLeaf(opts: CreateLeafOptions): Promise<KeyAndCert> {
  const keys = opts.key === undefined ? await generateKeyPair(opts.keyKind) : await importKeyPair(opts.key)
  const notBefore = opts.notBefore ?? new Date(Date.now() - BACKDATE_MS)
  const eku = opts.eku ?? [opts.kind === 'server' ? 'serverAuth' : 'clientAuth']
  const rsa = opts.keyKind === 'rsa1024' || opts.keyKind === 'rsa2048'
  const usage = x509.KeyUsageFlags.digitalSignature | (rsa ? x509.KeyUsageFlags.keyEncipherment : 0)
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(usage, true),
  ]
  if (eku !== false) extensions.push(new x509.ExtendedKeyUsageExtension(eku.map((name) => EKU_OIDS[name])))
  const names = [
    ...(opts.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(opts.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ]
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names))
  return issue({
    subject: dn(opts.commonName),
    keys,
    issuer: opts.issuer,
    notBefore,
    notAfter: opts.notAfter ?? new Date(notBefore.getTime() + 2 * 365 * DAY_MS),
    extensions,
    signatureHash: opts.signatureHash,
  })
}

/**
 * The proof of possession for CA registration (DESIGN §1): a certificate whose subject CN is the
 * registration code, with a fresh key pair of its own, signed by the CA's private key.
 */
export async function createVerificationCertificate(opts: CreateVerificationOptions): Promise<KeyAndCert> {
  const notBefore = opts.notBefore ?? new Date(Date.now() - BACKDATE_MS)
  return issue({
    subject: dn(opts.registrationCode),
    keys: await generateKeyPair(),
    issuer: opts.ca,
    notBefore,
    notAfter: opts.notAfter ?? new Date(notBefore.getTime() + DAY_MS),
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
  })
}

export interface DevPkiPaths {
  dir: string
  caCert: string
  caKey: string
  serverCaCert: string
  serverCert: string
  serverKey: string
  clientCert: string
  clientKey: string
}

export const DEV_SERVER_DNS_NAMES = ['localhost', '*.portcullis.local'] as const
export const DEV_SERVER_IP_ADDRESSES = ['127.0.0.1', '::1'] as const

/**
 * Writes a demo PKI: a client CA (ca.pem/ca.key) to register on an instance, a device certificate
 * under it (client.pem/client.key, CN demo-device), and a server certificate for local names
 * (server.pem/server.key) issued by a separate server CA (server-ca.pem) that clients can trust.
 * Private keys are written mode 0600; the server CA key is not kept (re-run to re-issue).
 */
export async function writeDevPki(dir: string): Promise<DevPkiPaths> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const [clientCa, serverCa] = await Promise.all([
    createCa({ commonName: 'Portcullis Dev Client CA' }),
    createCa({ commonName: 'Portcullis Dev Server CA', pathLength: 0 }),
  ])
  const [server, client] = await Promise.all([
    createLeaf({
      commonName: 'localhost',
      issuer: serverCa,
      kind: 'server',
      dnsNames: DEV_SERVER_DNS_NAMES,
      ipAddresses: DEV_SERVER_IP_ADDRESSES,
    }),
    createLeaf({ commonName: 'demo-device', issuer: clientCa, kind: 'client' }),
  ])
  const paths: DevPkiPaths = {
    dir,
    caCert: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca.key'),
    serverCaCert: join(dir, 'server-ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
  }
  await Promise.all([
    writePublic(paths.caCert, clientCa.cert),
    writePrivate(paths.caKey, clientCa.key),
    writePublic(paths.serverCaCert, serverCa.cert),
    writePublic(paths.serverCert, server.cert),
    writePrivate(paths.serverKey, server.key),
    writePublic(paths.clientCert, client.cert),
    writePrivate(paths.clientKey, client.key),
  ])
  return paths
}

interface IssueParams {
  subject: string
  keys: KeyPair
  issuer: KeyAndCert | undefined
  notBefore: Date
  notAfter: Date
  extensions: x509.Extension[]
  signatureHash?: SignatureHash | undefined
}

async function issue(p: IssueParams): Promise<KeyAndCert> {
  const publicKey = p.keys.publicKey
  const keyId = await subjectKeyId(publicKey)
  const hash = p.signatureHash ?? 'SHA-256'
  const signer: Signer = p.issuer === undefined
    ? { name: p.subject, key: p.keys.privateKey, keyId }
    : await issuerSigner(p.issuer)
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: p.subject,
    issuer: signer.name,
    notBefore: p.notBefore,
    notAfter: p.notAfter,
    // The signer's algorithm: ECDSA for generated CAs; a self-signed RSA certificate signs with RSA.
    signingAlgorithm: signer.key.algorithm.name === 'ECDSA' ? { name: 'ECDSA', hash } : { ...RSA_ALGORITHM, hash },
    publicKey,
    signingKey: signer.key,
    extensions: [
      ...p.extensions,
      new x509.SubjectKeyIdentifierExtension(keyId),
      new x509.AuthorityKeyIdentifierExtension(signer.keyId),
    ],
  })
  return { cert: cert.toString('pem') + '\n', key: await exportPrivateKey(p.keys.privateKey) }
}

interface Signer {
  /** Issuer DN string, as the certificate's subject has it. */
  name: string
  key: webcrypto.CryptoKey
  /** Hex key identifier for the authorityKeyIdentifier of what it signs. */
  keyId: string
}

/**
 * Parsing the issuer and importing its key cost more than signing; tests issue many certificates
 * under one CA, so the last few issuers are kept (bounded: at most ISSUER_CACHE_SIZE).
 */
const ISSUER_CACHE_SIZE = 32
const issuerCache = new Map<string, Promise<Signer>>()

function issuerSigner(issuer: KeyAndCert): Promise<Signer> {
  const cacheKey = issuer.cert + issuer.key
  let signer = issuerCache.get(cacheKey)
  if (signer === undefined) {
    signer = loadSigner(issuer)
    signer.catch(() => issuerCache.delete(cacheKey))
    issuerCache.set(cacheKey, signer)
    if (issuerCache.size > ISSUER_CACHE_SIZE) {
      const oldest = issuerCache.keys().next().value
      if (oldest !== undefined) issuerCache.delete(oldest)
    }
  }
  return signer
}

async function loadSigner(issuer: KeyAndCert): Promise<Signer> {
  const cert = new x509.X509Certificate(issuer.cert)
  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension)
  const key = await importPrivateKey(issuer.key)
  const keyId = ski?.keyId ?? await subjectKeyId(await cert.publicKey.export(KEY_ALGORITHM, ['verify']))
  return { name: cert.subject, key, keyId }
}

/**
 * RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits (the raw EC point; for RSA the
 * BIT STRING content of the SPKI, which is what follows the fixed-length header).
 */
async function subjectKeyId(publicKey: webcrypto.CryptoKey): Promise<string> {
  if (publicKey.algorithm.name === 'ECDSA') {
    const raw = await subtle.exportKey('raw', publicKey)
    return createHash('sha1').update(Buffer.from(raw)).digest('hex')
  }
  const spki = new x509.PublicKey(await subtle.exportKey('spki', publicKey))
  return Buffer.from(await spki.getKeyIdentifier('SHA-1')).toString('hex')
}

/**
 * NameConstraints ::= SEQUENCE { permittedSubtrees [0] GeneralSubtrees OPTIONAL,
 * excludedSubtrees [1] GeneralSubtrees OPTIONAL }; GeneralSubtree ::= SEQUENCE { base GeneralName }
 * with dNSName [2] IA5String (RFC 5280 §4.2.1.10). Written by hand: the DER is small and fixed.
 */
function nameConstraintsExtension(opts: NameConstraintsOption): x509.Extension {
  const subtrees = (tag: number, names: readonly string[] | undefined): Buffer[] => {
    if (names === undefined || names.length === 0) return []
    const items = names.map((name) => tlv(0x30, tlv(0x82, Buffer.from(name, 'ascii'))))
    return [tlv(tag, Buffer.concat(items))]
  }
  const value = tlv(0x30, Buffer.concat([...subtrees(0xa0, opts.permittedDns), ...subtrees(0xa1, opts.excludedDns)]))
  return new x509.Extension('2.5.29.30', opts.critical ?? true, value)
}

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length
  const length = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff])
  return Buffer.concat([Buffer.from([tag]), length, content])
}

/** RFC 5280 §4.1.2.2: positive, at most 20 octets; 16 random bytes with the top bit cleared. */
function serialNumber(): string {
  const bytes = randomBytes(16)
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01
  return bytes.toString('hex')
}

/** A DN string with just a CN; commas and other specials are escaped (RFC 4514 §2.4). */
function dn(commonName: string): string {
  return `CN=${commonName.replace(/([,+"\\<>;=#])/g, '\\$1')}`
}

function keyUsageFlags(names: readonly KeyUsageName[]): number {
  return names.reduce((flags, name) => flags | x509.KeyUsageFlags[name], 0)
}

async function generateKeyPair(kind: KeyKind = 'p256'): Promise<KeyPair> {
  if (kind === 'p256') return subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])
  const modulusLength = kind === 'rsa1024' ? 1024 : 2048
  return subtle.generateKey({ ...RSA_ALGORITHM, modulusLength }, true, ['sign', 'verify'])
}

async function importPrivateKey(pem: string): Promise<webcrypto.CryptoKey> {
  const der = x509.PemConverter.decodeFirst(pem)
  return subtle.importKey('pkcs8', der, KEY_ALGORITHM, true, ['sign'])
}

/** WebCrypto cannot derive the public half from a PKCS#8 key; node:crypto can. */
async function importKeyPair(pem: string): Promise<KeyPair> {
  const spki = createPublicKey(pem).export({ type: 'spki', format: 'der' })
  const [privateKey, publicKey] = await Promise.all([
    importPrivateKey(pem),
    subtle.importKey('spki', spki, KEY_ALGORITHM, true, ['verify']),
  ])
  return { privateKey, publicKey }
}

async function exportPrivateKey(key: webcrypto.CryptoKey): Promise<string> {
  const der = await subtle.exportKey('pkcs8', key)
  return x509.PemConverter.encode(der, 'PRIVATE KEY') + '\n'
}

async function writePublic(path: string, pem: string): Promise<void> {
  await writeFile(path, pem, { mode: 0o644 })
}

/** writeFile's mode applies only when it creates the file; chmod covers an overwritten one. */
async function writePrivate(path: string, pem: string): Promise<void> {
  await writeFile(path, pem, { mode: 0o600 })
  await chmod(path, 0o600)
}
