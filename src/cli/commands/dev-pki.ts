import { isAbsolute, join } from 'node:path'
import { writeDevPki } from '../../ca/pki'
import { parse } from '../args'
import { CliError } from '../cli-error'
import { printJson } from '../io'
import type { CommandContext } from './context'

/** `portcullis dev-pki [DIR]` (DESIGN §3): writes a demo PKI, default ./certs (config tls.devCertsDir). */
export async function devPki(ctx: CommandContext, args: string[]): Promise<number> {
  const parsed = parse(args, {})
  if (parsed.positionals.length > 1) throw new CliError('USAGE', 'dev-pki takes one directory at most')
  const dir = parsed.positionals[0] ?? 'certs'
  const paths = await writeDevPki(isAbsolute(dir) ? dir : join(ctx.io.cwd, dir))
  printJson(ctx.io, paths)
  return 0
}
