import { CommanderError } from 'commander'
import { isPortcullisError } from '../errors'
import { CliError } from './cli-error'
import { COMMANDS } from './commands'
import { packageVersion } from './commands/version'
import { overview } from './help'
import { hintFor } from './hints'
import { defaultIo, type CliIo } from './io'
import { buildProgram, suggestionIn } from './program'

/**
 * The `portcullis` command line (DESIGN §3 "CLI", §4 "Operator interfaces"), on commander;
 * bin/portcullis.js calls main(argv). Answers the exit code: 0 on success, 1 on any error, printed
 * on stderr as `CODE: message`, then `hint: what to do` where there is something to say. Tests
 * pass their own environment, input and output streams in `io`; a caller that brings its own
 * output and no input has no terminal to answer a confirmation (destructive commands need --yes).
 */
export async function main(argv: string[], io: Partial<CliIo> = {}): Promise<number> {
  const full: CliIo = { ...defaultIo(), ...io, stdin: 'stdin' in io ? io.stdin : io.stdout === undefined ? process.stdin : undefined }
  const { program, outcome } = buildProgram(full, COMMANDS, { version: packageVersion(), overview })
  try {
    await program.parseAsync(argv, { from: 'user' })
    return outcome.code
  } catch (err) {
    // --help, --version and `help` end through commander's exit, with code 0.
    if (err instanceof CommanderError && err.exitCode === 0) return 0
    full.stderr.write(describe(err instanceof CommanderError ? usageError(err, outcome.path) : withUsageHint(err, outcome.path)))
    return 1
  }
}

/** commander's parse errors (unknown option, missing value, bad choice) in our words. */
function usageError(err: CommanderError, path: string): CliError {
  const first = (err.message.split('\n')[0] ?? '').replace(/^error: /, '')
  const text = first.replace(/^unknown (command|option) '([^']*)'/, 'unknown $1 $2')
  const suggestion = suggestionIn(err.message)
  return new CliError('USAGE', `${text}${suggestion === undefined ? '' : `; did you mean ${suggestion}?`}`, `see portcullis ${path === '' ? '' : `${path} `}--help`)
}

/** A usage error of a command's own checks points at that command's help. */
function withUsageHint(err: unknown, path: string): unknown {
  if (!(err instanceof CliError) || err.code !== 'USAGE' || err.hint !== undefined) return err
  return new CliError('USAGE', err.message, `see portcullis ${path === '' ? '' : `${path} `}--help`)
}

function describe(err: unknown): string {
  if (err instanceof CliError) return `${err.code}: ${err.message}\n${err.hint === undefined ? '' : `hint: ${err.hint}\n`}`
  if (isPortcullisError(err)) {
    const hint = hintFor(err.code, err.message)
    return `${err.code}: ${err.message}\n${hint === undefined ? '' : `hint: ${hint}\n`}`
  }
  return `INTERNAL: ${err instanceof Error ? err.message : String(err)}\n`
}
