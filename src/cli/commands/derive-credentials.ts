import { deriveCredentials, TIMESTAMP } from '../../auth/credentials'
import { flag, required, str } from '../args'
import { CliError } from '../cli-error'
import type { OptionSpec } from '../spec'
import type { LeafSpec } from './context'

/** The options that name an AccessKey and its secret, shared with `static-account create`. */
export const CREDENTIAL_OPTIONS: readonly [OptionSpec, OptionSpec, OptionSpec, OptionSpec] = [
  { flags: '-i, --instance <id>', description: 'the AMQP instance' },
  { flags: '--access-key <id>', description: 'the AccessKey id' },
  { flags: '--secret <secret>', description: 'the AccessKey secret (used here, never sent)' },
  { flags: '--timestamp <ms>', description: 'milliseconds since the epoch (default now)' },
]

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
export const deriveCredentialsCommand: LeafSpec = {
  name: 'derive-credentials',
  synopsis: '--instance ID --access-key AK --secret SK [--static --timestamp MS] [--security-token T]',
  summary: 'print an AMQP userName/password (offline; dynamic logins use the current time)',
  options: [
    ...CREDENTIAL_OPTIONS,
    { flags: '--static', description: 'the password of a static user (needs its createTimestamp as --timestamp)' },
    { flags: '--security-token <token>', description: 'an STS login with this token (access-key token)' },
  ],
  async run(ctx, parsed) {
    const isStatic = flag(parsed, 'static')
    const securityToken = str(parsed, 'security-token')
    if (isStatic && securityToken !== undefined) throw new CliError('USAGE', '--security-token goes with a dynamic login, not --static')
    if (isStatic && str(parsed, 'timestamp') === undefined) throw new CliError('USAGE', '--static needs --timestamp (the createTimestamp of the static user)')
    const derived = deriveCredentials({
      instanceId: required(str(parsed, 'instance'), '--instance'),
      accessKeyId: required(str(parsed, 'access-key'), '--access-key'),
      accessKeySecret: required(str(parsed, 'secret'), '--secret'),
      ts: timestampOption(str(parsed, 'timestamp'), Date.now),
      kind: isStatic ? 'static' : 'dynamic',
      ...(securityToken === undefined ? {} : { securityToken }),
    })
    ctx.print({ userName: derived.userName, password: derived.password })
    return 0
  },
}
