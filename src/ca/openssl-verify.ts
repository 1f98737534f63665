/**
 * RFC 5280 §6 path validation of one candidate path by OpenSSL itself (`openssl verify`, the
 * X509_verify_cert of the OpenSSL 3 that Node links against), for what the hand-written search in
 * chain.ts does not implement: name constraints of every CA on the path, critical or not
 * (§4.2.1.10, §6.1.3 (b)–(c)), and the structural rules of `-x509_strict` (authority/subject key
 * identifiers, empty names, malformed or duplicate extensions, basicConstraints on CAs, …).
 *
 * Flags: `-x509_strict` (RFC 5280 conformance), `-partial_chain` (the registered anchor may be an
 * intermediate, DESIGN §1), `-attime` (the caller's clock), `-auth_level 2` (112-bit security:
 * RSA/DSA ≥ 2048, no SHA-1 — a second line behind profile.ts), no `-purpose` (the EKU rule is
 * profile.ts's, which also accepts anyExtendedKeyUsage, RFC 5280 §4.2.1.12).
 *
 * Node 20 exposes no chain verification in-process, so this is a child process per validation:
 * ≈20–35 ms measured, paid once per chain (verified-chains.ts caches the result per trust index). At most
 * MAX_RUNNING run at once; a run that takes longer than TIMEOUT_MS is killed and counts as a
 * failure (fail closed). The certificates are written to a private temporary directory (mode
 * 0700): `openssl verify` reads trust anchors and untrusted certificates only from files.
 */
import { execFile } from 'node:child_process'
import type { X509Certificate } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const MAX_RUNNING = 2
export const TIMEOUT_MS = 5000
/** stderr kept from one run (OpenSSL prints a line per error); more is cut. */
const MAX_OUTPUT = 16 * 1024

export type OpensslVerdict =
  | { ok: true }
  | { ok: false; reason: 'CLIENT_CERT_UNTRUSTED' | 'CLIENT_CERT_PROFILE' | 'CERT_EXPIRED'; detail: string }

/** X509_V_ERR_* codes (openssl/x509_vfy.h) that are about validity or key/algorithm strength. */
const EXPIRED = new Set([9, 10]) // CERT_NOT_YET_VALID, CERT_HAS_EXPIRED
const PROFILE = new Set([66, 67, 68]) // EE_KEY_TOO_SMALL, CA_KEY_TOO_SMALL, CA_MD_TOO_WEAK

let running = 0
const waiting: Array<() => void> = []

export async function opensslVerify(
  leaf: X509Certificate, intermediates: readonly X509Certificate[], anchor: X509Certificate, now: Date,
): Promise<OpensslVerdict> {
  await acquire()
  let dir: string | undefined
  try {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-verify-'))
    const anchorFile = join(dir, 'anchor.pem')
    const leafFile = join(dir, 'leaf.pem')
    const untrustedFile = join(dir, 'untrusted.pem')
    await Promise.all([
      writeFile(anchorFile, anchor.toString(), { mode: 0o600 }),
      writeFile(leafFile, leaf.toString(), { mode: 0o600 }),
      writeFile(untrustedFile, intermediates.map((c) => c.toString()).join(''), { mode: 0o600 }),
    ])
    const args = [
      'verify', '-x509_strict', '-partial_chain', '-auth_level', '2',
      '-attime', String(Math.floor(now.getTime() / 1000)), '-CAfile', anchorFile,
      ...(intermediates.length > 0 ? ['-untrusted', untrustedFile] : []),
      leafFile,
    ]
    return await run(args)
  } catch (err) {
    return { ok: false, reason: 'CLIENT_CERT_UNTRUSTED', detail: `path validation failed to run: ${(err as Error).message}` }
  } finally {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true }).catch(() => undefined)
    release()
  }
}

function run(args: string[]): Promise<OpensslVerdict> {
  return new Promise((resolve) => {
    execFile('openssl', args, { timeout: TIMEOUT_MS, maxBuffer: MAX_OUTPUT, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err === null && /: OK\s*$/.test(stdout)) return resolve({ ok: true })
      resolve(verdictOf(String(stderr), err))
    })
  })
}

/** `error 47 at 0 depth lookup: permitted subtree violation` → the reason for the first error. */
export function verdictOf(stderr: string, err: Error | null): OpensslVerdict {
  const match = /error (\d+) at (\d+) depth lookup: ([^\n]*)/.exec(stderr)
  if (match === null) {
    const why = err !== null && 'killed' in err && err.killed ? 'timed out' : 'no verdict'
    return { ok: false, reason: 'CLIENT_CERT_UNTRUSTED', detail: `path validation ${why}` }
  }
  const code = Number(match[1])
  const detail = `${match[3] ?? ''} (X509_V_ERR ${code} at depth ${match[2] ?? '?'})`
  if (EXPIRED.has(code)) return { ok: false, reason: 'CERT_EXPIRED', detail }
  if (PROFILE.has(code)) return { ok: false, reason: 'CLIENT_CERT_PROFILE', detail }
  return { ok: false, reason: 'CLIENT_CERT_UNTRUSTED', detail }
}

function acquire(): Promise<void> {
  if (running < MAX_RUNNING) {
    running += 1
    return Promise.resolve()
  }
  return new Promise((resolve) => waiting.push(() => { running += 1; resolve() }))
}

function release(): void {
  running -= 1
  waiting.shift()?.()
}
