/**
 * A SoftHSM2 token of the test's own (Debian `softhsm2` + `opensc`), in a temp directory named by
 * SOFTHSM2_CONF, with AES-256 keys made by `pkcs11-tool --keygen --sensitive` — the way an
 * operator makes one. Nothing is mocked: the gateway loads libsofthsm2.so through pkcs11js.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { Test } from './services'

const run = promisify(execFile)
export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so'

export interface SoftHsmToken {
  module: string
  tokenLabel: string
  pin: string
  /** Environment a process needs to see this token (SOFTHSM2_CONF). */
  env: Record<string, string>
  /** Makes an AES-256 key labelled `label`: sensitive, never extractable (or extractable, to test the refusal). */
  addAesKey(label: string, opts?: { extractable?: boolean }): Promise<void>
}

/** Skips loudly (or fails under PORTCULLIS_REQUIRE_SERVICES=1) when SoftHSM2 or OpenSC is absent. */
export async function softHsmAvailable(t: Test): Promise<boolean> {
  const present = existsSync(SOFTHSM_MODULE) && (await has('softhsm2-util')) && (await has('pkcs11-tool'))
  if (present) return true
  const message = 'SoftHSM2 (softhsm2) and OpenSC (opensc) are needed for the PKCS#11 master key tests: apt-get install softhsm2 opensc'
  if (process.env.PORTCULLIS_REQUIRE_SERVICES === '1') t.fail(message)
  else {
    process.stderr.write(`\n*** SKIPPED: ${message} ***\n`)
    t.pass('needs softhsm2', { skip: message })
  }
  return false
}

export async function createSoftHsmToken(dir: string, tokenLabel = 'portcullis-test', pin = '123456'): Promise<SoftHsmToken> {
  const tokens = join(dir, 'softhsm-tokens')
  await mkdir(tokens, { recursive: true })
  const conf = join(dir, 'softhsm2.conf')
  await writeFile(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`)
  const env = { SOFTHSM2_CONF: conf }
  const opts = { env: { ...process.env, ...env } }
  await run('softhsm2-util', ['--init-token', '--free', '--label', tokenLabel, '--pin', pin, '--so-pin', `${pin}-so`], opts)
  // The conf must be set before pkcs11js loads SoftHSM in this process (it reads it once).
  process.env.SOFTHSM2_CONF = conf
  return {
    module: SOFTHSM_MODULE,
    tokenLabel,
    pin,
    env,
    async addAesKey(label, keyOpts = {}) {
      await run('pkcs11-tool', [
        '--module', SOFTHSM_MODULE, '--token-label', tokenLabel, '--login', '--pin', pin,
        '--keygen', '--key-type', 'AES:32', '--label', label, '--sensitive', ...(keyOpts.extractable === true ? ['--extractable'] : []),
      ], opts)
    },
  }
}

async function has(command: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${command}`])
    return true
  } catch {
    return false
  }
}
