import { flag, oneId, required, str } from '../args'
import { CliError } from '../cli-error'
import { confirm } from '../confirm'
import type { GroupSpec, OptionSpec } from '../spec'
import { adminClient, seg, type LeafSpec } from './context'

/**
 * `portcullis blacklist add|list|show|remove` → /v1/blacklist (DESIGN §3). `--ttl SECONDS` is turned
 * into `expiresAt` here, from this machine's clock, so the API keeps one way to say expiry.
 */
const INSTANCE: OptionSpec = { flags: '-i, --instance <id>', description: 'only on this instance (default: every instance)' }
const KIND: OptionSpec = { flags: '-k, --kind <kind>', description: 'accessKey, account, username, clientId, certFingerprint or ip' }
const ENTRY_ID: OptionSpec = { flags: '--id <entryId>', description: 'the entry id (or give it as the argument)' }
const COLUMNS = ['id', 'kind', 'value', 'instanceId', 'reason', 'expiresAt', 'expired']

/** `--expires ISO` as given (the API checks it), or now + `--ttl SECONDS`; not both. */
export function expiryOf(expires: string | undefined, ttl: string | undefined, nowMs: number): string | undefined {
  if (expires !== undefined && ttl !== undefined) throw new CliError('USAGE', 'give --expires or --ttl, not both')
  if (ttl === undefined) return expires
  const seconds = Number(ttl)
  if (!/^\d+$/.test(ttl) || !Number.isSafeInteger(seconds) || seconds === 0) throw new CliError('USAGE', '--ttl must be a positive whole number of seconds')
  return new Date(nowMs + seconds * 1000).toISOString()
}

const add: LeafSpec = {
  name: 'add',
  synopsis: '--kind accessKey|account|username|clientId|certFingerprint|ip --value V [--instance ID] [--reason R] [--expires ISO | --ttl SECONDS]',
  summary: 'refuse new connections matching V, and close the live ones; global unless --instance; ip takes an address or CIDR range',
  options: [
    KIND,
    { flags: '--value <value>', description: 'what to match (an ip entry takes an address or a CIDR range)' },
    INSTANCE,
    { flags: '--reason <text>', description: 'why, for the record' },
    { flags: '--expires <iso>', description: 'when the entry stops applying (ISO 8601)' },
    { flags: '--ttl <seconds>', description: 'or: that many seconds from now' },
  ],
  async run(ctx, parsed) {
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
    ctx.print(await (await adminClient(ctx)).json('POST', '/v1/blacklist', { body }))
    return 0
  },
}

const list: LeafSpec = {
  name: 'list',
  synopsis: '[--instance ID] [--kind K] [--include-expired]',
  summary: 'list the entries in force (and the lapsed ones with --include-expired)',
  options: [INSTANCE, KIND, { flags: '--include-expired', description: 'also the entries past their expiry' }],
  async run(ctx, parsed) {
    const query = {
      instanceId: str(parsed, 'instance'),
      kind: str(parsed, 'kind'),
      includeExpired: flag(parsed, 'include-expired') ? 'true' : undefined,
    }
    ctx.print(await (await adminClient(ctx)).listAll('/v1/blacklist', query), { columns: COLUMNS })
    return 0
  },
}

const show: LeafSpec = {
  name: 'show',
  synopsis: 'ID',
  summary: 'show one entry',
  args: ['[entryId]'],
  options: [ENTRY_ID],
  async run(ctx, parsed) {
    const id = oneId(parsed.positionals, str(parsed, 'id'), 'a blacklist entry id')
    ctx.print(await (await adminClient(ctx)).json('GET', `/v1/blacklist/${seg(id)}`))
    return 0
  },
}

const remove: LeafSpec = {
  name: 'remove',
  synopsis: 'ID [--yes]',
  summary: 'remove an entry: what it refused may connect again',
  args: ['[entryId]'],
  options: [ENTRY_ID],
  destructive: true,
  async run(ctx, parsed) {
    const id = oneId(parsed.positionals, str(parsed, 'id'), 'a blacklist entry id')
    const client = await adminClient(ctx)
    await confirm(ctx, parsed, `remove blacklist entry ${id}`)
    await client.request('DELETE', `/v1/blacklist/${seg(id)}`)
    ctx.print({ removed: id })
    return 0
  },
}

export const blacklistGroup: GroupSpec = {
  name: 'blacklist',
  section: 'Blacklist (refuses new connections and closes matching live ones)',
  summary: 'the account blacklist: refuse and close connections by key, account, user, clientId, certificate or address',
  commands: [add, list, show, remove],
}
