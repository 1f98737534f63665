import { loadConfig } from '../../config/load'
import { PortcullisError } from '../../errors'
import { chooseConfigFile } from '../config-file'
import type { GroupSpec } from '../spec'
import type { LeafSpec } from './context'

/**
 * `portcullis config check [-c FILE]` (DESIGN §4 "Operations and keys"): what `start` would read —
 * FILE, else PORTCULLIS_CONFIG, else ./portcullis.yaml when present, else the defaults
 * (config-file.ts), with the PORTCULLIS_* overrides — validated
 * without starting anything: the schema (an error names the key), the rules `start` checks before
 * it opens anything (workers need a Redis store), and the default certificate files when the
 * config names them. Prints `ok` and exits 0, or prints the error and exits 1 — what a CI step or
 * a Helm pre-upgrade hook runs before a reload or a rollout.
 */
const check: LeafSpec = {
  name: 'check',
  synopsis: '[-c FILE]',
  summary: 'validate the config start would read, with the PORTCULLIS_* overrides, without starting ("ok", or the key at fault)',
  details: 'The file is the one start would read: -c FILE, else PORTCULLIS_CONFIG, else ./portcullis.yaml when present, else none (the defaults).',
  async run(ctx) {
    const { file } = chooseConfigFile(ctx.io, ctx.global.config)
    const config = loadConfig({ ...(file !== undefined ? { file } : {}), env: ctx.io.env })
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
