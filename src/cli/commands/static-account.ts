import { encodeUserName, secretSignFor, signatureFor } from '../../auth/credentials'
import { parse, required, str } from '../args'
import { CliError } from '../cli-error'
import { printJson } from '../io'
import { adminClient, seg, type Subcommand } from './context'
import { CREDENTIAL_OPTIONS, timestampOption } from './derive-credentials'

/**
 * `portcullis static-account create|list|delete` → /v1/instances/{id}/static-accounts (DESIGN §1
 * CreateAccount). `create` computes userName, signature and secretSign here, with the secret, so
 * the secret itself never travels: the gateway verifies the two HMACs against its sealed copy.
 */
const accountsPath = (instanceId: string): string => `/v1/instances/${seg(instanceId)}/static-accounts`

function noPositionals(positionals: string[]): void {
  if (positionals.length > 0) throw new CliError('USAGE', `unexpected argument ${positionals[0] ?? ''}`)
}

/** The CreateAccount body for `accessKeyId` on `instanceId` at `createTimestamp`. */
export function createAccountBody(instanceId: string, accessKeyId: string, accessKeySecret: string, createTimestamp: string): Record<string, unknown> {
  return {
    instanceId,
    accountAccessKey: accessKeyId,
    userName: encodeUserName({ type: 2, instanceId, accessKeyId }),
    createTimestamp: Number(createTimestamp),
    signature: signatureFor(accessKeySecret, createTimestamp),
    secretSign: secretSignFor(accessKeySecret, createTimestamp),
  }
}

const create: Subcommand = async (ctx, args) => {
  const parsed = parse(args, CREDENTIAL_OPTIONS)
  noPositionals(parsed.positionals)
  const instanceId = required(str(parsed, 'instance'), '--instance')
  const body = createAccountBody(
    instanceId,
    required(str(parsed, 'access-key'), '--access-key'),
    required(str(parsed, 'secret'), '--secret'),
    timestampOption(str(parsed, 'timestamp'), Date.now),
  )
  printJson(ctx.io, await (await adminClient(ctx, parsed)).json('POST', accountsPath(instanceId), { body }))
  return 0
}

const list: Subcommand = async (ctx, args) => {
  const parsed = parse(args, { instance: CREDENTIAL_OPTIONS.instance })
  noPositionals(parsed.positionals)
  printJson(ctx.io, await (await adminClient(ctx, parsed)).listAll(accountsPath(required(str(parsed, 'instance'), '--instance'))))
  return 0
}

const remove: Subcommand = async (ctx, args) => {
  const parsed = parse(args, { instance: CREDENTIAL_OPTIONS.instance, 'access-key': CREDENTIAL_OPTIONS['access-key'] })
  noPositionals(parsed.positionals)
  const instanceId = required(str(parsed, 'instance'), '--instance')
  const accessKeyId = required(str(parsed, 'access-key'), '--access-key')
  await (await adminClient(ctx, parsed)).request('DELETE', `${accountsPath(instanceId)}/${seg(accessKeyId)}`)
  printJson(ctx.io, { deleted: { instanceId, accessKey: accessKeyId } })
  return 0
}

export const staticAccountCommands: Record<string, Subcommand> = { create, list, delete: remove }
