import { CliError } from '../cli-error'
import { flag, oneId, parse, readDocument, readText, str, strings, toPort, type Parsed } from '../args'
import { printJson } from '../io'
import { adminClient, seg, type CommandContext, type Subcommand } from './context'

/** `portcullis instance create|list|show|update|delete` → /v1/instances (DESIGN §3). */
const FIELD_OPTIONS = {
  file: { type: 'string', short: 'f' },
  hostname: { type: 'string', multiple: true },
  'backend-kind': { type: 'string' },
  'backend-host': { type: 'string' },
  'backend-port': { type: 'string' },
  'backend-username': { type: 'string' },
  'backend-vhost': { type: 'string' },
  'access-type': { type: 'string' },
  'vpc-id': { type: 'string' },
  authorization: { type: 'string' },
  'server-cert': { type: 'string' },
  'server-key': { type: 'string' },
} as const

/** The body from `--file` overlaid with the individual flags. Passwords only via the file. */
async function bodyFrom(ctx: CommandContext, parsed: Parsed): Promise<Record<string, unknown>> {
  const file = str(parsed, 'file')
  const body: Record<string, unknown> = file === undefined ? {} : await readDocument(ctx.io, file)
  const set = (key: string, value: unknown): void => {
    if (value !== undefined) body[key] = value
  }
  set('id', str(parsed, 'id'))
  set('protocol', str(parsed, 'protocol'))
  set('hostnames', strings(parsed, 'hostname'))
  set('accessType', str(parsed, 'access-type'))
  set('vpcId', str(parsed, 'vpc-id'))
  const mode = str(parsed, 'authorization')
  if (mode !== undefined) body['authorization'] = { mode }
  const backend: Record<string, unknown> = { ...(body['backend'] as Record<string, unknown> | undefined) }
  const setBackend = (key: string, value: unknown): void => {
    if (value !== undefined) backend[key] = value
  }
  setBackend('kind', str(parsed, 'backend-kind'))
  setBackend('host', str(parsed, 'backend-host'))
  setBackend('port', toPort(str(parsed, 'backend-port'), '--backend-port'))
  setBackend('username', str(parsed, 'backend-username'))
  setBackend('vhost', str(parsed, 'backend-vhost'))
  if (Object.keys(backend).length > 0) body['backend'] = backend
  const cert = str(parsed, 'server-cert')
  const key = str(parsed, 'server-key')
  if ((cert === undefined) !== (key === undefined)) throw new CliError('USAGE', '--server-cert and --server-key go together')
  if (cert !== undefined && key !== undefined) {
    body['serverCertificate'] = { certificate: await readText(ctx.io, cert), privateKey: await readText(ctx.io, key) }
  }
  return body
}

const create: Subcommand = async (ctx, args) => {
  const parsed = parse(args, { ...FIELD_OPTIONS, id: { type: 'string' }, protocol: { type: 'string' } })
  if (parsed.positionals.length > 0) throw new CliError('USAGE', `unexpected argument ${parsed.positionals[0] ?? ''}`)
  const client = await adminClient(ctx, parsed)
  printJson(ctx.io, await client.json('POST', '/v1/instances', { body: await bodyFrom(ctx, parsed) }))
  return 0
}

const list: Subcommand = async (ctx, args) => {
  const parsed = parse(args, {})
  printJson(ctx.io, await (await adminClient(ctx, parsed)).listAll('/v1/instances'))
  return 0
}

const show: Subcommand = async (ctx, args) => {
  const parsed = parse(args, { id: { type: 'string' } })
  const id = oneId(parsed.positionals, str(parsed, 'id'), 'an instance id')
  printJson(ctx.io, await (await adminClient(ctx, parsed)).json('GET', `/v1/instances/${seg(id)}`))
  return 0
}

const update: Subcommand = async (ctx, args) => {
  const parsed = parse(args, { ...FIELD_OPTIONS, id: { type: 'string' } })
  const id = oneId(parsed.positionals, str(parsed, 'id'), 'an instance id')
  const body = await bodyFrom(ctx, parsed)
  delete body['id']
  printJson(ctx.io, await (await adminClient(ctx, parsed)).json('PATCH', `/v1/instances/${seg(id)}`, { body }))
  return 0
}

/** `--force` deletes an instance that still holds ACTIVE CAs or devices (else INSTANCE_IN_USE). */
const remove: Subcommand = async (ctx, args) => {
  const parsed = parse(args, { id: { type: 'string' }, force: { type: 'boolean' } })
  const id = oneId(parsed.positionals, str(parsed, 'id'), 'an instance id')
  const force = flag(parsed, 'force')
  await (await adminClient(ctx, parsed)).request('DELETE', `/v1/instances/${seg(id)}`, force ? { query: { force: 'true' } } : {})
  printJson(ctx.io, { deleted: id, ...(force ? { forced: true } : {}) })
  return 0
}

export const instanceCommands: Record<string, Subcommand> = { create, list, show, update, delete: remove }
