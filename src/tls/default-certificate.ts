import { existsSync, readFileSync, unwatchFile, watchFile } from 'node:fs'
import { join } from 'node:path'
import type { Config } from '../config/schema'
import type { Logger } from '../observability/logger'
import { writeDevPki } from '../ca/pki'
import type { KeyPair } from '../proxy/tls-contexts'
import { checkKeyPair } from './key-pair'

/**
 * The default server certificate: `tls.certFile`/`tls.keyFile` when configured; otherwise the dev
 * PKI in `tls.devCertsDir`, generated on first start (DESIGN §3 "Config": defaults serve a single
 * machine). Both files are checked to be a certificate and a key before the gateway listens.
 */
export async function loadDefaultKeyPair(config: Config, logger: Logger): Promise<KeyPair> {
  const files = defaultKeyPairFiles(config)
  if (config.tls.certFile === undefined && !existsSync(files.cert)) {
    await writeDevPki(config.tls.devCertsDir)
    logger.warn({ dir: config.tls.devCertsDir }, 'generated a development PKI; configure tls.certFile/keyFile for production')
  }
  return readKeyPair(files)
}

export function defaultKeyPairFiles(config: Config): { cert: string; key: string } {
  const { certFile, keyFile, devCertsDir } = config.tls
  if (certFile !== undefined || keyFile !== undefined) {
    if (certFile === undefined || keyFile === undefined) throw new Error('tls.certFile and tls.keyFile go together')
    return { cert: certFile, key: keyFile }
  }
  return { cert: join(devCertsDir, 'server.pem'), key: join(devCertsDir, 'server.key') }
}

export function readKeyPair(files: { cert: string; key: string }): KeyPair {
  const pair = { cert: readFileSync(files.cert, 'utf8'), key: readFileSync(files.key, 'utf8') }
  // Fail at start, naming the file, rather than at the first handshake.
  try {
    checkKeyPair(pair)
  } catch (err) {
    throw new Error(`${files.cert} / ${files.key}: ${(err as Error).message}`, { cause: err })
  }
  return pair
}

/**
 * Replaces the default certificate without a restart when its files change (a renewal by
 * cert-manager or certbot). A half-written pair fails to parse and is ignored until it is whole.
 */
export function watchDefaultKeyPair(config: Config, logger: Logger, onChange: (pair: KeyPair) => void): () => void {
  const files = defaultKeyPairFiles(config)
  const reload = (): void => {
    try {
      onChange(readKeyPair(files))
      logger.info({ cert: files.cert }, 'default server certificate reloaded')
    } catch (err) {
      logger.warn({ cert: files.cert, err: (err as Error).message }, 'default server certificate not reloaded')
    }
  }
  watchFile(files.cert, { interval: 2000, persistent: false }, reload)
  watchFile(files.key, { interval: 2000, persistent: false }, reload)
  return () => {
    unwatchFile(files.cert, reload)
    unwatchFile(files.key, reload)
  }
}
