import { oneId, str } from '../args'
import { CliError } from '../cli-error'
import { confirm } from '../confirm'
import type { GroupSpec, OptionSpec } from '../spec'
import { adminClient, seg, type LeafSpec } from './context'

/**
 * `portcullis access-key create|list|show|disable|enable|delete|token` → /v1/access-keys
 * (DESIGN §3). `create` prints the secret: the only time the gateway ever shows it; `--account`
 * puts the key in an account (default `root`, which may do everything; DESIGN §4).
 */
const keyPath = (id: string): string => `/v1/access-keys/${seg(id)}`
const KEY_ID: OptionSpec = { flags: '--id <accessKeyId>', description: 'the AccessKey id (or give it as the argument)' }
const COLUMNS = ['accessKeyId', 'accountId', 'status', 'description', 'createdAt']

const create: LeafSpec = {
  name: 'create',
  synopsis: '[--description D] [--account ID]',
  summary: 'create one (in account ID, default root); the secret is printed this once only',
  options: [{ flags: '-d, --description <text>', description: 'what the key is for' }, { flags: '--account <id>', description: 'the account the key belongs to (default root: may do everything)' }],
  async run(ctx, parsed) {
    const description = str(parsed, 'description')
    const accountId = str(parsed, 'account')
    const body = { ...(description !== undefined ? { description } : {}), ...(accountId !== undefined ? { accountId } : {}) }
    ctx.print(await (await adminClient(ctx)).json('POST', '/v1/access-keys', { body }))
    return 0
  },
}

const list: LeafSpec = {
  name: 'list',
  synopsis: '',
  summary: 'list the AccessKeys (never their secrets)',
  async run(ctx) {
    ctx.print(await (await adminClient(ctx)).listAll('/v1/access-keys'), { columns: COLUMNS })
    return 0
  },
}

const show: LeafSpec = {
  name: 'show',
  synopsis: 'AK',
  summary: 'show one AccessKey',
  args: ['[accessKeyId]'],
  options: [KEY_ID],
  async run(ctx, parsed) {
    const id = oneId(parsed.positionals, str(parsed, 'id'), 'an AccessKey id')
    ctx.print(await (await adminClient(ctx)).json('GET', keyPath(id)))
    return 0
  },
}

function setStatus(name: 'disable' | 'enable', status: 'Active' | 'Inactive', summary: string): LeafSpec {
  return {
    name,
    synopsis: 'AK',
    summary,
    args: ['[accessKeyId]'],
    options: [KEY_ID],
    async run(ctx, parsed) {
      const id = oneId(parsed.positionals, str(parsed, 'id'), 'an AccessKey id')
      ctx.print(await (await adminClient(ctx)).json('PATCH', keyPath(id), { body: { status } }))
      return 0
    },
  }
}

const remove: LeafSpec = {
  name: 'delete',
  synopsis: 'AK [--yes]',
  summary: 'delete an AccessKey: its logins stop working and its live connections close',
  args: ['[accessKeyId]'],
  options: [KEY_ID],
  destructive: true,
  async run(ctx, parsed) {
    const id = oneId(parsed.positionals, str(parsed, 'id'), 'an AccessKey id')
    const client = await adminClient(ctx)
    await confirm(ctx, parsed, `delete AccessKey ${id}`)
    await client.request('DELETE', keyPath(id))
    ctx.print({ deleted: id })
    return 0
  },
}

/** A security token for the STS userName variant (`derive-credentials --security-token`). */
const token: LeafSpec = {
  name: 'token',
  synopsis: '--id AK [--ttl SECONDS]',
  summary: 'issue a security token (STS login with derive-credentials --security-token)',
  args: ['[accessKeyId]'],
  options: [KEY_ID, { flags: '--ttl <seconds>', description: 'how long the token is valid' }],
  async run(ctx, parsed) {
    const id = oneId(parsed.positionals, str(parsed, 'id'), 'an AccessKey id')
    const ttl = str(parsed, 'ttl')
    const ttlSeconds = ttl === undefined ? undefined : Number(ttl)
    if (ttlSeconds !== undefined && !Number.isInteger(ttlSeconds)) throw new CliError('USAGE', '--ttl must be a whole number of seconds')
    const body = ttlSeconds === undefined ? {} : { ttlSeconds }
    ctx.print(await (await adminClient(ctx)).json('POST', `${keyPath(id)}/security-tokens`, { body }))
    return 0
  },
}

export const accessKeyGroup: GroupSpec = {
  name: 'access-key',
  section: 'AccessKeys and static AMQP users',
  summary: 'AccessKeys: they sign admin calls and derive AMQP logins',
  commands: [
    create, list, show,
    setStatus('disable', 'Inactive', 'disable an AccessKey: its live connections close at once'),
    setStatus('enable', 'Active', 'enable an AccessKey again'),
    remove, token,
  ],
}
