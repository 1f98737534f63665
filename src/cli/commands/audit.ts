import { access } from 'node:fs/promises'
import { isAbsolute, join } from 'node:path'
import { verifyFile } from '../../audit/verify'
import { flag, parse } from '../args'
import { CliError } from '../cli-error'
import { printJson } from '../io'
import type { Subcommand } from './context'

/**
 * `portcullis audit verify FILE [--partial]` (DESIGN §3 "`hash` … so a chain can be verified"):
 * checks a JSON-lines audit file offline. Prints `{ok: true, count}`, or `{ok: false, line,
 * problem, eventId?}` for the first broken link and exits 1. `--partial` accepts a file that does
 * not start at the genesis event (an excerpt, a rotated file, a trimmed stream export).
 */
const verify: Subcommand = async (ctx, args) => {
  const parsed = parse(args, { partial: { type: 'boolean' } })
  const [file, extra] = parsed.positionals
  if (file === undefined) throw new CliError('USAGE', 'audit verify needs the audit FILE')
  if (extra !== undefined) throw new CliError('USAGE', `unexpected argument ${extra}`)
  const path = isAbsolute(file) ? file : join(ctx.io.cwd, file)
  try {
    await access(path)
  } catch (err) {
    throw new CliError('FILE_UNREADABLE', `cannot read ${file}: ${(err as Error).message}`)
  }
  const result = await verifyFile(path, flag(parsed, 'partial') ? { firstPrev: 'any' } : {})
  printJson(ctx.io, result)
  if (result.ok) return 0
  ctx.io.stderr.write(`audit chain broken at line ${result.line}: ${result.problem}${result.eventId === undefined ? '' : ` (event ${result.eventId})`}\n`)
  return 1
}

export const auditCommands: Record<string, Subcommand> = { verify }
