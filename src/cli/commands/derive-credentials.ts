import { deriveCredentials, TIMESTAMP } from '../../auth/credentials'
import { flag, parse, required, str } from '../args'
import { CliError } from '../cli-error'
import { printJson } from '../io'
import type { CommandContext } from './context'

/** The options that name an AccessKey and its secret, shared with `static-account create`. */
export const CREDENTIAL_OPTIONS = {
  instance: { type: 'string', short: 'i' },
  'access-key': { type: 'string' },
  secret: { type: 'string' },
  timestamp: { type: 'string' },
} as const

/** `--timestamp MS` checked as the canonical decimal milliseconds the password formula uses. */
export function timestampOption(value: string | undefined, fallback: () => number): string {
  const ts = value ?? String(fallback())
  if (!TIMESTAMP.test(ts) || !Number.isSafeInteger(Number(ts))) throw new CliError('USAGE', '--timestamp must be a millisecond Unix time, e.g. 1700000000000')
  return ts
}

/**
 * `portcullis derive-credentials --instance ID --access-key AK --secret SK [--static --timestamp MS]
 * [--security-token T]` (DESIGN §3): prints the AMQP userName/password a client sends, offline.
 * A dynamic login uses the current time (or `--timestamp`); a static user's password uses its
 * fixed createTimestamp, so `--static` needs `--timestamp`.
 */
export async function deriveCredentialsCommand(ctx: CommandContext, args: string[], now: () => number = Date.now): Promise<number> {
  const parsed = parse(args, { ...CREDENTIAL_OPTIONS, static: { type: 'boolean' }, 'security-token': { type: 'string' } })
  if (parsed.positionals.length > 0) throw new CliError('USAGE', `unexpected argument ${parsed.positionals[0] ?? ''}`)
  const isStatic = flag(parsed, 'static')
  const securityToken = str(parsed, 'security-token')
  if (isStatic && securityToken !== undefined) throw new CliError('USAGE', '--security-token goes with a dynamic login, not --static')
  if (isStatic && str(parsed, 'timestamp') === undefined) throw new CliError('USAGE', '--static needs --timestamp (the createTimestamp of the static user)')
  const derived = deriveCredentials({
    instanceId: required(str(parsed, 'instance'), '--instance'),
    accessKeyId: required(str(parsed, 'access-key'), '--access-key'),
    accessKeySecret: required(str(parsed, 'secret'), '--secret'),
    ts: timestampOption(str(parsed, 'timestamp'), now),
    kind: isStatic ? 'static' : 'dynamic',
    ...(securityToken === undefined ? {} : { securityToken }),
  })
  printJson(ctx.io, { userName: derived.userName, password: derived.password })
  return 0
}
