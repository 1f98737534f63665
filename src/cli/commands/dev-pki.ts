import { isAbsolute, join } from 'node:path'
import { writeDevPki } from '../../ca/pki'
import type { LeafSpec } from './context'

/** `portcullis dev-pki [DIR]` (DESIGN §3): writes a demo PKI, default ./certs (config tls.devCertsDir). */
export const devPkiCommand: LeafSpec = {
  name: 'dev-pki',
  synopsis: '[DIR]',
  summary: 'write a demo PKI (client CA, device and server certificates), default ./certs',
  args: ['[dir]'],
  async run(ctx, parsed) {
    const dir = parsed.positionals[0] ?? 'certs'
    ctx.print(await writeDevPki(isAbsolute(dir) ? dir : join(ctx.io.cwd, dir)))
    return 0
  },
}
