import { oneId, parse, str } from '../args'
import { CliError } from '../cli-error'
import { printJson } from '../io'
import { adminClient, seg, type Subcommand } from './context'

/**
 * `portcullis account create|list|show|delete` → /v1/accounts (DESIGN §4). AccessKeys are put in
 * an account with `access-key create --account ID`; what the account may do, with `policy attach`.
 */
const accountPath = (id: string): string => `/v1/accounts/${seg(id)}`

const create: Subcommand = async (ctx, args) => {
  const parsed = parse(args, { id: { type: 'string' }, 'display-name': { type: 'string' }, parent: { type: 'string' } })
  const id = oneId(parsed.positionals, str(parsed, 'id'), 'an account id')
  const displayName = str(parsed, 'display-name')
  const parentId = str(parsed, 'parent')
  const body = { id, ...(displayName !== undefined ? { displayName } : {}), ...(parentId !== undefined ? { parentId } : {}) }
  printJson(ctx.io, await (await adminClient(ctx, parsed)).json('POST', '/v1/accounts', { body }))
  return 0
}

const list: Subcommand = async (ctx, args) => {
  const parsed = parse(args, {})
  if (parsed.positionals.length > 0) throw new CliError('USAGE', `unexpected argument ${parsed.positionals[0] ?? ''}`)
  printJson(ctx.io, await (await adminClient(ctx, parsed)).listAll('/v1/accounts'))
  return 0
}

const show: Subcommand = async (ctx, args) => {
  const parsed = parse(args, { id: { type: 'string' } })
  const id = oneId(parsed.positionals, str(parsed, 'id'), 'an account id')
  printJson(ctx.io, await (await adminClient(ctx, parsed)).json('GET', accountPath(id)))
  return 0
}

const remove: Subcommand = async (ctx, args) => {
  const parsed = parse(args, { id: { type: 'string' } })
  const id = oneId(parsed.positionals, str(parsed, 'id'), 'an account id')
  await (await adminClient(ctx, parsed)).request('DELETE', accountPath(id))
  printJson(ctx.io, { deleted: id })
  return 0
}

export const accountCommands: Record<string, Subcommand> = { create, list, show, delete: remove }
