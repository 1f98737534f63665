import { isPortcullisError } from '../errors'
import { CliError } from './cli-error'
import { accessKeyCommands } from './commands/access-key'
import { accountCommands } from './commands/account'
import { auditCommands } from './commands/audit'
import { blacklistCommands } from './commands/blacklist'
import { caCommands } from './commands/ca'
import { configCommands } from './commands/config'
import type { CommandContext, Subcommand } from './commands/context'
import { deriveCredentialsCommand } from './commands/derive-credentials'
import { devPki } from './commands/dev-pki'
import { deviceCommands } from './commands/device'
import { HELP_TEXT } from './commands/help'
import { instanceCommands } from './commands/instance'
import { policyCommands } from './commands/policy'
import { start } from './commands/start'
import { staticAccountCommands } from './commands/static-account'
import { version } from './commands/version'
import { defaultIo, type CliIo } from './io'

/**
 * The `portcullis` command line (DESIGN §3 "CLI"); bin/portcullis.js calls main(argv). Answers the
 * exit code: 0 on success, 1 on any error, printed as `code: message` on stderr. Tests pass their
 * own environment and output streams in `io`.
 */
const GROUPS: Record<string, Record<string, Subcommand>> = {
  instance: instanceCommands,
  ca: caCommands,
  device: deviceCommands,
  'access-key': accessKeyCommands,
  account: accountCommands,
  policy: policyCommands,
  'static-account': staticAccountCommands,
  blacklist: blacklistCommands,
  audit: auditCommands,
  config: configCommands,
}

export async function main(argv: string[], io: Partial<CliIo> = {}): Promise<number> {
  const ctx: CommandContext = { io: { ...defaultIo(), ...io } }
  try {
    return await dispatch(ctx, argv)
  } catch (err) {
    ctx.io.stderr.write(`${describe(err)}\n`)
    return 1
  }
}

async function dispatch(ctx: CommandContext, argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      ctx.io.stdout.write(HELP_TEXT)
      return 0
    case 'version':
    case '--version':
      return version(ctx)
    case 'start':
      return start(ctx, rest)
    case 'dev-pki':
      return devPki(ctx, rest)
    case 'derive-credentials':
      return deriveCredentialsCommand(ctx, rest)
    default: {
      const group = GROUPS[command]
      if (group === undefined) throw new CliError('USAGE', `unknown command ${command}; see portcullis help`)
      const [sub, ...args] = rest
      const run = sub === undefined ? undefined : group[sub]
      if (run === undefined) {
        throw new CliError('USAGE', `${command} needs one of: ${Object.keys(group).join(', ')}${sub === undefined ? '' : ` (not ${sub})`}`)
      }
      return run(ctx, args)
    }
  }
}

function describe(err: unknown): string {
  if (isPortcullisError(err) || err instanceof CliError) return `${err.code}: ${err.message}`
  return `INTERNAL: ${err instanceof Error ? err.message : String(err)}`
}
