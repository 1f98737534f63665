import { parse, oneId, str } from '../args'
import { CliError } from '../cli-error'
import { printJson } from '../io'
import { adminClient, seg, type Subcommand } from './context'

/**
 * `portcullis access-key create|list|show|disable|enable|delete|token` → /v1/access-keys
 * (DESIGN §3). `create` prints the secret: the only time the gateway ever shows it; `--account`
 * puts the key in an account (default `root`, which may do everything; DESIGN §4).
 */
const keyPath = (id: string): string => `/v1/access-keys/${seg(id)}`

function noPositionals(positionals: string[]): void {
  if (positionals.length > 0) throw new CliError('USAGE', `unexpected argument ${positionals[0] ?? ''}`)
}

const create: Subcommand = async (ctx, args) => {
  const parsed = parse(args, { description: { type: 'string', short: 'd' }, account: { type: 'string' } })
  noPositionals(parsed.positionals)
  const description = str(parsed, 'description')
  const accountId = str(parsed, 'account')
  const body = { ...(description !== undefined ? { description } : {}), ...(accountId !== undefined ? { accountId } : {}) }
  printJson(ctx.io, await (await adminClient(ctx, parsed)).json('POST', '/v1/access-keys', { body }))
  return 0
}

const list: Subcommand = async (ctx, args) => {
  const parsed = parse(args, {})
  noPositionals(parsed.positionals)
  printJson(ctx.io, await (await adminClient(ctx, parsed)).listAll('/v1/access-keys'))
  return 0
}

const show: Subcommand = async (ctx, args) => {
  const parsed = parse(args, { id: { type: 'string' } })
  const id = oneId(parsed.positionals, str(parsed, 'id'), 'an AccessKey id')
  printJson(ctx.io, await (await adminClient(ctx, parsed)).json('GET', keyPath(id)))
  return 0
}

function setStatus(status: 'Active' | 'Inactive'): Subcommand {
  return async (ctx, args) => {
    const parsed = parse(args, { id: { type: 'string' } })
    const id = oneId(parsed.positionals, str(parsed, 'id'), 'an AccessKey id')
    printJson(ctx.io, await (await adminClient(ctx, parsed)).json('PATCH', keyPath(id), { body: { status } }))
    return 0
  }
}

const remove: Subcommand = async (ctx, args) => {
  const parsed = parse(args, { id: { type: 'string' } })
  const id = oneId(parsed.positionals, str(parsed, 'id'), 'an AccessKey id')
  await (await adminClient(ctx, parsed)).request('DELETE', keyPath(id))
  printJson(ctx.io, { deleted: id })
  return 0
}

/** A security token for the STS userName variant (`derive-credentials --security-token`). */
const token: Subcommand = async (ctx, args) => {
  const parsed = parse(args, { id: { type: 'string' }, ttl: { type: 'string' } })
  const id = oneId(parsed.positionals, str(parsed, 'id'), 'an AccessKey id')
  const ttl = str(parsed, 'ttl')
  const ttlSeconds = ttl === undefined ? undefined : Number(ttl)
  if (ttlSeconds !== undefined && !Number.isInteger(ttlSeconds)) throw new CliError('USAGE', '--ttl must be a whole number of seconds')
  const body = ttlSeconds === undefined ? {} : { ttlSeconds }
  printJson(ctx.io, await (await adminClient(ctx, parsed)).json('POST', `${keyPath(id)}/security-tokens`, { body }))
  return 0
}

export const accessKeyCommands: Record<string, Subcommand> = {
  create, list, show, disable: setStatus('Inactive'), enable: setStatus('Active'), delete: remove, token,
}
