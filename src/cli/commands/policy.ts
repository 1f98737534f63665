import { oneId, parse, readDocument, required, str } from '../args'
import { CliError } from '../cli-error'
import { printJson } from '../io'
import { adminClient, seg, type Subcommand } from './context'

/**
 * `portcullis policy put|list|show|delete|attach|detach|attachments` → /v1/policies (DESIGN §4).
 * `put NAME --file DOC.json` sends the file's document (`{statements: [...]}`, JSON or YAML) as
 * the body; the gateway validates it. A principal is one path segment when detached, so it is
 * percent-encoded here (`ca:prod/<id>` → `ca%3Aprod%2F<id>`).
 */
const policyPath = (name: string): string => `/v1/policies/${seg(name)}`

/** NAME and PRINCIPAL, the two positionals of attach and detach. */
function nameAndPrincipal(positionals: string[], verb: string): [string, string] {
  const [name, principal, extra] = positionals
  if (name === undefined || principal === undefined) throw new CliError('USAGE', `policy ${verb} needs NAME PRINCIPAL`)
  if (extra !== undefined) throw new CliError('USAGE', `unexpected argument ${extra}`)
  return [name, principal]
}

const put: Subcommand = async (ctx, args) => {
  const parsed = parse(args, { file: { type: 'string', short: 'f' } })
  const name = oneId(parsed.positionals, undefined, 'a policy name')
  const body = await readDocument(ctx.io, required(str(parsed, 'file'), '--file'))
  printJson(ctx.io, await (await adminClient(ctx, parsed)).json('PUT', policyPath(name), { body }))
  return 0
}

const list: Subcommand = async (ctx, args) => {
  const parsed = parse(args, {})
  if (parsed.positionals.length > 0) throw new CliError('USAGE', `unexpected argument ${parsed.positionals[0] ?? ''}`)
  printJson(ctx.io, await (await adminClient(ctx, parsed)).listAll('/v1/policies'))
  return 0
}

const show: Subcommand = async (ctx, args) => {
  const parsed = parse(args, {})
  const name = oneId(parsed.positionals, undefined, 'a policy name')
  printJson(ctx.io, await (await adminClient(ctx, parsed)).json('GET', policyPath(name)))
  return 0
}

const remove: Subcommand = async (ctx, args) => {
  const parsed = parse(args, {})
  const name = oneId(parsed.positionals, undefined, 'a policy name')
  await (await adminClient(ctx, parsed)).request('DELETE', policyPath(name))
  printJson(ctx.io, { deleted: name })
  return 0
}

const attach: Subcommand = async (ctx, args) => {
  const parsed = parse(args, {})
  const [name, principal] = nameAndPrincipal(parsed.positionals, 'attach')
  printJson(ctx.io, await (await adminClient(ctx, parsed)).json('POST', `${policyPath(name)}/attachments`, { body: { principal } }))
  return 0
}

const detach: Subcommand = async (ctx, args) => {
  const parsed = parse(args, {})
  const [name, principal] = nameAndPrincipal(parsed.positionals, 'detach')
  await (await adminClient(ctx, parsed)).request('DELETE', `${policyPath(name)}/attachments/${seg(principal)}`)
  printJson(ctx.io, { detached: { policy: name, principal } })
  return 0
}

const attachments: Subcommand = async (ctx, args) => {
  const parsed = parse(args, {})
  const name = oneId(parsed.positionals, undefined, 'a policy name')
  printJson(ctx.io, await (await adminClient(ctx, parsed)).listAll(`${policyPath(name)}/attachments`))
  return 0
}

export const policyCommands: Record<string, Subcommand> = { put, list, show, delete: remove, attach, detach, attachments }
