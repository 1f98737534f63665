/**
 * Certificate generation: ECDSA P-256 keys, SHA-256 signatures, X.509 v3 with the extensions a
 * verifier looks at (basicConstraints, keyUsage, extKeyUsage, SAN, SKI/AKI).
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
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const
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
  return issue({
    subject: dn(opts.commonName),
    keys,
    issuer: opts.issuer,
    notBefore,
    notAfter: opts.notAfter ?? new Date(notBefore.getTime() + 10 * 365 * DAY_MS),
    extensions,
  })
}

export async function createLeaf(opts: CreateLeafOptions): Promise<KeyAndCert> {
  const keys = opts.key === undefined ? await generateKeyPair() : await importKeyPair(opts.key)
  const notBefore = opts.notBefore ?? new Date(Date.now() - BACKDATE_MS)
  const eku = opts.kind === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([eku]),
  ]
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
}

async function issue(p: IssueParams): Promise<KeyAndCert> {
  const publicKey = p.keys.publicKey
  const keyId = await subjectKeyId(publicKey)
  const signer: Signer = p.issuer === undefined
    ? { name: p.subject, key: p.keys.privateKey, keyId }
    : await issuerSigner(p.issuer)
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: p.subject,
    issuer: signer.name,
    notBefore: p.notBefore,
    notAfter: p.notAfter,
    signingAlgorithm: SIGNING_ALGORITHM,
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

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits (the raw EC point). */
async function subjectKeyId(publicKey: webcrypto.CryptoKey): Promise<string> {
  const raw = await subtle.exportKey('raw', publicKey)
  return createHash('sha1').update(Buffer.from(raw)).digest('hex')
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

async function generateKeyPair(): Promise<KeyPair> {
  return subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])
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
