import { oneId, readDocument, required, str } from '../args'
import { CliError } from '../cli-error'
import { confirm } from '../confirm'
import type { GroupSpec } from '../spec'
import { adminClient, seg, type LeafSpec } from './context'

/**
 * `portcullis policy put|list|show|delete|attach|detach|attachments` → /v1/policies (DESIGN §4).
 * `put NAME --file DOC.json` sends the file's document (`{statements: [...]}`, JSON or YAML) as
 * the body; the gateway validates it. A principal is one path segment when detached, so it is
 * percent-encoded here (`ca:prod/<id>` → `ca%3Aprod%2F<id>`).
 */
const policyPath = (name: string): string => `/v1/policies/${seg(name)}`
const PRINCIPALS = 'account:ID, accessKey:AK, instance:ID, ca:INSTANCE/CA_ID or device:INSTANCE/DEVICE_ID'

/** NAME and PRINCIPAL, the two positionals of attach and detach. */
function nameAndPrincipal(positionals: readonly string[], verb: string): [string, string] {
  const [name, principal] = positionals
  if (name === undefined || principal === undefined) throw new CliError('USAGE', `policy ${verb} needs NAME PRINCIPAL`)
  return [name, principal]
}

const put: LeafSpec = {
  name: 'put',
  synopsis: 'NAME --file DOC.json|-',
  summary: 'create or replace {statements: [{effect, actions, resources}]} (JSON or YAML)',
  args: ['[name]'],
  options: [{ flags: '-f, --file <doc>', description: 'the policy document, JSON or YAML; - reads it from stdin' }],
  async run(ctx, parsed) {
    const name = oneId(parsed.positionals, undefined, 'a policy name')
    const body = await readDocument(ctx.io, required(str(parsed, 'file'), '--file'))
    ctx.print(await (await adminClient(ctx)).json('PUT', policyPath(name), { body }))
    return 0
  },
}

const list: LeafSpec = {
  name: 'list',
  synopsis: '',
  summary: 'list the policies',
  async run(ctx) {
    ctx.print(await (await adminClient(ctx)).listAll('/v1/policies'), { columns: ['name', 'version', 'updatedAt'] })
    return 0
  },
}

const show: LeafSpec = {
  name: 'show',
  synopsis: 'NAME',
  summary: 'show one policy',
  args: ['[name]'],
  async run(ctx, parsed) {
    const name = oneId(parsed.positionals, undefined, 'a policy name')
    ctx.print(await (await adminClient(ctx)).json('GET', policyPath(name)))
    return 0
  },
}

const remove: LeafSpec = {
  name: 'delete',
  synopsis: 'NAME [--yes]',
  summary: 'delete is refused while the policy is attached',
  args: ['[name]'],
  destructive: true,
  async run(ctx, parsed) {
    const name = oneId(parsed.positionals, undefined, 'a policy name')
    const client = await adminClient(ctx)
    await confirm(ctx, parsed, `delete policy ${name}`)
    await client.request('DELETE', policyPath(name))
    ctx.print({ deleted: name })
    return 0
  },
}

const attach: LeafSpec = {
  name: 'attach',
  synopsis: 'NAME PRINCIPAL',
  summary: PRINCIPALS,
  args: ['[name]', '[principal]'],
  async run(ctx, parsed) {
    const [name, principal] = nameAndPrincipal(parsed.positionals, 'attach')
    ctx.print(await (await adminClient(ctx)).json('POST', `${policyPath(name)}/attachments`, { body: { principal } }))
    return 0
  },
}

const detach: LeafSpec = {
  name: 'detach',
  synopsis: 'NAME PRINCIPAL',
  summary: PRINCIPALS,
  args: ['[name]', '[principal]'],
  async run(ctx, parsed) {
    const [name, principal] = nameAndPrincipal(parsed.positionals, 'detach')
    await (await adminClient(ctx)).request('DELETE', `${policyPath(name)}/attachments/${seg(principal)}`)
    ctx.print({ detached: { policy: name, principal } })
    return 0
  },
}

const attachments: LeafSpec = {
  name: 'attachments',
  synopsis: 'NAME',
  summary: 'the principals a policy is attached to',
  args: ['[name]'],
  async run(ctx, parsed) {
    const name = oneId(parsed.positionals, undefined, 'a policy name')
    ctx.print(await (await adminClient(ctx)).listAll(`${policyPath(name)}/attachments`), { columns: ['principal', 'policy', 'createdAt'] })
    return 0
  },
}

export const policyGroup: GroupSpec = {
  name: 'policy',
  section: 'Accounts and policies (what an AccessKey may do; keys of the root account may do everything)',
  summary: 'policies: what accounts, AccessKeys, instances, CAs and devices may do',
  commands: [put, list, show, remove, attach, detach, attachments],
}
