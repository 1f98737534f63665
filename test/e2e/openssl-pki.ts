/**
 * Certificates made the way an operator makes them: with the openssl CLI, in a temporary
 * directory (the console test's CA, its verification certificate, a device certificate, and a
 * server certificate for the instance's own hostname). Every key is EC P-256.
 */
import { execFile } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export async function openssl(dir: string, ...args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir })
}

export interface Issued {
  certFile: string
  keyFile: string
  cert: string
  key: string
}

async function read(dir: string, name: string): Promise<Issued> {
  const certFile = join(dir, `${name}.pem`)
  const keyFile = join(dir, `${name}.key`)
  return { certFile, keyFile, cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8') }
}

/** A self-signed CA certificate (`name.pem`, `name.key`). */
export async function makeCa(dir: string, name: string, commonName: string): Promise<Issued> {
  await openssl(dir, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '30', '-subj', `/CN=${commonName}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
  return read(dir, name)
}

/** A leaf signed by `ca`: a client (device) certificate or a server certificate for `dnsName`. */
export async function makeLeaf(dir: string, ca: string, name: string, commonName: string, kind: { client: true } | { server: string }): Promise<Issued> {
  await openssl(dir, 'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${commonName}`)
  const ext = 'client' in kind
    ? 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n'
    : `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:${kind.server}\n`
  await writeFile(join(dir, `${name}.ext`), ext)
  await openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial',
    '-days', '7', '-extfile', `${name}.ext`, '-out', `${name}.pem`)
  return read(dir, name)
}

/** The README's recipe: a certificate whose CN is the registration code, signed by the CA key. */
export async function makeVerification(dir: string, ca: string, registrationCode: string): Promise<Issued> {
  await openssl(dir, 'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'verif.key', '-subj', `/CN=${registrationCode}`, '-out', 'verif.csr')
  await openssl(dir, 'x509', '-req', '-in', 'verif.csr', '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '1', '-out', 'verif.pem')
  return read(dir, 'verif')
}

/** A certificate's id in the API: lowercase hex SHA-256 of its DER (DESIGN §3). */
export function fingerprintOf(pem: string): string {
  return new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase()
}
