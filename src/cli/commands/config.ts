import { isAbsolute, join } from 'node:path'
import { loadConfig } from '../../config/load'
import { PortcullisError } from '../../errors'
import type { GroupSpec } from '../spec'
import type { LeafSpec } from './context'

/**
 * `portcullis config check [-c FILE]` (DESIGN §4 "Operations and keys"): what `start` would read —
 * FILE (else PORTCULLIS_CONFIG, else the defaults) with the PORTCULLIS_* overrides — validated
 * without starting anything: the schema (an error names the key), the rules `start` checks before
 * it opens anything (workers need a Redis store), and the default certificate files when the
 * config names them. Prints `ok` and exits 0, or prints the error and exits 1 — what a CI step or
 * a Helm pre-upgrade hook runs before a reload or a rollout.
 */
const check: LeafSpec = {
  name: 'check',
  synopsis: '[-c FILE]',
  summary: 'validate FILE and the PORTCULLIS_* overrides without starting ("ok", or the key at fault)',
  async run(ctx) {
    const file = ctx.global.config
    const config = loadConfig({ ...(file !== undefined ? { file: isAbsolute(file) ? file : join(ctx.io.cwd, file) } : {}), env: ctx.io.env })
    const { checkClusterConfig } = await import('../../cluster')
    checkClusterConfig(config)
    if (config.tls.certFile !== undefined || config.tls.keyFile !== undefined) {
      const { defaultKeyPairFiles, readKeyPair } = await import('../../tls/default-certificate')
      try {
        readKeyPair(defaultKeyPairFiles(config))
      } catch (err) {
        throw new PortcullisError('CONFIG_INVALID', `tls.certFile / tls.keyFile: ${(err as Error).message}`, { cause: err })
      }
    }
    ctx.io.stdout.write('ok\n')
    return 0
  },
}

export const configGroup: GroupSpec = {
  name: 'config',
  section: 'Gateway',
  summary: 'the gateway configuration file',
  commands: [check],
}
