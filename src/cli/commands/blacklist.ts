import { flag, oneId, parse, required, str } from '../args'
import { CliError } from '../cli-error'
import { printJson } from '../io'
import { adminClient, seg, type Subcommand } from './context'

/**
 * `portcullis blacklist add|list|remove` → /v1/blacklist (DESIGN §3). `--ttl SECONDS` is turned
 * into `expiresAt` here, from this machine's clock, so the API keeps one way to say expiry.
 */
const INSTANCE = { instance: { type: 'string', short: 'i' } } as const

function noPositionals(positionals: string[]): void {
  if (positionals.length > 0) throw new CliError('USAGE', `unexpected argument ${positionals[0] ?? ''}`)
}

/** `--expires ISO` as given (the API checks it), or now + `--ttl SECONDS`; not both. */
export function expiryOf(expires: string | undefined, ttl: string | undefined, nowMs: number): string | undefined {
  if (expires !== undefined && ttl !== undefined) throw new CliError('USAGE', 'give --expires or --ttl, not both')
  if (ttl === undefined) return expires
  const seconds = Number(ttl)
  if (!/^\d+$/.test(ttl) || !Number.isSafeInteger(seconds) || seconds === 0) throw new CliError('USAGE', '--ttl must be a positive whole number of seconds')
  return new Date(nowMs + seconds * 1000).toISOString()
}

const add: Subcommand = async (ctx, args) => {
  const parsed = parse(args, {
    ...INSTANCE, kind: { type: 'string', short: 'k' }, value: { type: 'string' }, reason: { type: 'string' },
    expires: { type: 'string' }, ttl: { type: 'string' },
  })
  noPositionals(parsed.positionals)
  const instanceId = str(parsed, 'instance')
  const reason = str(parsed, 'reason')
  const expiresAt = expiryOf(str(parsed, 'expires'), str(parsed, 'ttl'), Date.now())
  const body = {
    kind: required(str(parsed, 'kind'), '--kind'),
    value: required(str(parsed, 'value'), '--value'),
    ...(instanceId !== undefined ? { instanceId } : {}),
    ...(reason !== undefined ? { reason } : {}),
    ...(expiresAt !== undefined ? { expiresAt } : {}),
  }
  printJson(ctx.io, await (await adminClient(ctx, parsed)).json('POST', '/v1/blacklist', { body }))
  return 0
}

const list: Subcommand = async (ctx, args) => {
  const parsed = parse(args, { ...INSTANCE, kind: { type: 'string', short: 'k' }, 'include-expired': { type: 'boolean' } })
  noPositionals(parsed.positionals)
  const query = {
    instanceId: str(parsed, 'instance'),
    kind: str(parsed, 'kind'),
    includeExpired: flag(parsed, 'include-expired') ? 'true' : undefined,
  }
  printJson(ctx.io, await (await adminClient(ctx, parsed)).listAll('/v1/blacklist', query))
  return 0
}

const show: Subcommand = async (ctx, args) => {
  const parsed = parse(args, { id: { type: 'string' } })
  const id = oneId(parsed.positionals, str(parsed, 'id'), 'a blacklist entry id')
  printJson(ctx.io, await (await adminClient(ctx, parsed)).json('GET', `/v1/blacklist/${seg(id)}`))
  return 0
}

const remove: Subcommand = async (ctx, args) => {
  const parsed = parse(args, { id: { type: 'string' } })
  const id = oneId(parsed.positionals, str(parsed, 'id'), 'a blacklist entry id')
  await (await adminClient(ctx, parsed)).request('DELETE', `/v1/blacklist/${seg(id)}`)
  printJson(ctx.io, { removed: id })
  return 0
}

export const blacklistCommands: Record<string, Subcommand> = { add, list, show, remove }
