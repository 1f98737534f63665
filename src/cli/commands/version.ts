import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { LeafSpec } from './context'

/** `portcullis version` (also `--version`, `-V`): the package version. */
export const versionCommand: LeafSpec = {
  name: 'version',
  synopsis: '',
  summary: 'print the version (also --version, -V)',
  async run(ctx) {
    ctx.io.stdout.write(`${packageVersion()}\n`)
    return 0
  },
}

/**
 * The version in the package's package.json, read at run time from the nearest one above this
 * file (src/cli/commands/ under ts, dist/src/cli/commands/ once built), so that the build does not
 * have to copy it into dist/.
 */
export function packageVersion(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json')
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown }
      if (pkg.name === 'portcullis' && typeof pkg.version === 'string') return pkg.version
    }
    if (dirname(dir) === dir) throw new Error('package.json of portcullis not found above the CLI')
  }
}
