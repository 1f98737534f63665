import { confirm } from '../confirm'
import { oneId, str } from '../args'
import type { GroupSpec, OptionSpec } from '../spec'
import { adminClient, seg, type LeafSpec } from './context'

/**
 * `portcullis account create|list|show|delete` → /v1/accounts (DESIGN §4). AccessKeys are put in
 * an account with `access-key create --account ID`; what the account may do, with `policy attach`.
 */
const accountPath = (id: string): string => `/v1/accounts/${seg(id)}`
const ACCOUNT_ID: OptionSpec = { flags: '--id <id>', description: 'the account id (or give it as the argument)' }

const create: LeafSpec = {
  name: 'create',
  synopsis: 'ID [--display-name N] [--parent P]',
  summary: 'a sub-account of P (default: directly under root)',
  args: ['[id]'],
  options: [ACCOUNT_ID, { flags: '--display-name <name>', description: 'a name for people' }, { flags: '--parent <id>', description: 'the parent account (default root)' }],
  async run(ctx, parsed) {
    const id = oneId(parsed.positionals, str(parsed, 'id'), 'an account id')
    const displayName = str(parsed, 'display-name')
    const parentId = str(parsed, 'parent')
    const body = { id, ...(displayName !== undefined ? { displayName } : {}), ...(parentId !== undefined ? { parentId } : {}) }
    ctx.print(await (await adminClient(ctx)).json('POST', '/v1/accounts', { body }))
    return 0
  },
}

const list: LeafSpec = {
  name: 'list',
  synopsis: '',
  summary: 'list the accounts',
  async run(ctx) {
    ctx.print(await (await adminClient(ctx)).listAll('/v1/accounts'), { columns: ['id', 'parentId', 'displayName', 'createdAt'] })
    return 0
  },
}

const show: LeafSpec = {
  name: 'show',
  synopsis: 'ID',
  summary: 'show one account',
  args: ['[id]'],
  options: [ACCOUNT_ID],
  async run(ctx, parsed) {
    const id = oneId(parsed.positionals, str(parsed, 'id'), 'an account id')
    ctx.print(await (await adminClient(ctx)).json('GET', accountPath(id)))
    return 0
  },
}

const remove: LeafSpec = {
  name: 'delete',
  synopsis: 'ID [--yes]',
  summary: 'refused while it has sub-accounts or AccessKeys',
  args: ['[id]'],
  options: [ACCOUNT_ID],
  destructive: true,
  async run(ctx, parsed) {
    const id = oneId(parsed.positionals, str(parsed, 'id'), 'an account id')
    const client = await adminClient(ctx)
    await confirm(ctx, parsed, `delete account ${id}`)
    await client.request('DELETE', accountPath(id))
    ctx.print({ deleted: id })
    return 0
  },
}

export const accountGroup: GroupSpec = {
  name: 'account',
  section: 'Accounts and policies (what an AccessKey may do; keys of the root account may do everything)',
  summary: 'accounts: root and its sub-accounts, which own AccessKeys',
  commands: [create, list, show, remove],
}
