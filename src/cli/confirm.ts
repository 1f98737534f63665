import { CliError } from './cli-error'
import type { CliInput } from './io'
import type { CommandContext, Parsed } from './spec'

/** Longest answer read from the terminal; anything longer is no "yes". */
const MAX_ANSWER = 256

/**
 * The guard of destructive commands (spec.ts `destructive`): `--yes` or `--force` confirms; else a
 * terminal is asked, and anything but y/yes leaves everything as it was. Without a terminal
 * (a script, a pipe, CI) there is nobody to ask, so the command is refused: a script says --yes
 * on purpose rather than deleting by accident.
 */
export async function confirm(ctx: CommandContext, parsed: Parsed, what: string): Promise<void> {
  if (parsed.values['yes'] === true || parsed.values['force'] === true) return
  const stdin = ctx.io.stdin
  if (stdin?.isTTY !== true) {
    throw new CliError('CONFIRMATION_REQUIRED', `${what}: refused without confirmation (stdin is not a terminal)`,
      `add --yes to confirm: portcullis ${ctx.path} … --yes`)
  }
  ctx.io.stderr.write(`${what}. Continue? [y/N] `)
  const answer = await readLine(stdin)
  if (!/^\s*y(es)?\s*$/i.test(answer)) throw new CliError('NOT_CONFIRMED', `${what}: not confirmed, nothing changed`)
}

/** One line from the terminal (or what came before end of input). */
export async function readLine(input: CliInput): Promise<string> {
  let text = ''
  for await (const chunk of input) {
    text += typeof chunk === 'string' ? chunk : chunk.toString('utf8')
    const newline = text.indexOf('\n')
    if (newline >= 0) return text.slice(0, newline)
    if (text.length > MAX_ANSWER) return ''
  }
  return text
}
