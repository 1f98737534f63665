import { CliError } from '../cli-error'
import { confirm } from '../confirm'
import { flag, oneId, readDocument, readText, str, strings, toPort, type Parsed } from '../args'
import type { GroupSpec, OptionSpec } from '../spec'
import { adminClient, seg, type CommandContext, type LeafSpec } from './context'

/** `portcullis instance create|list|show|update|delete|rotate-backend-password` → /v1/instances (DESIGN §3). */
const FIELD_OPTIONS: readonly OptionSpec[] = [
  { flags: '-f, --file <body>', description: 'the instance as JSON or YAML, - for stdin (the only way to give a backend password); the flags below override its fields' },
  { flags: '--hostname <name>', description: 'a TLS server name (SNI) of the instance; repeat for several', multiple: true },
  { flags: '--backend-kind <kind>', description: 'tcp (a broker at --backend-host/--backend-port) or embedded (an in-process aedes broker, MQTT)' },
  { flags: '--backend-host <host>', description: 'the broker host' },
  { flags: '--backend-port <port>', description: 'the broker port' },
  { flags: '--backend-username <user>', description: 'the user the gateway logs in to the broker as (AMQP, or MQTT with replaceBackendCredentials)' },
  { flags: '--backend-vhost <vhost>', description: 'AMQP: the broker vhost client vhosts map to' },
  { flags: '--access-type <type>', description: 'ANY_TUNNEL (any network) or SINGLE_TUNNEL (only --vpc-id)' },
  { flags: '--vpc-id <vpc>', description: 'the VPC a SINGLE_TUNNEL instance admits' },
  { flags: '--authorization <mode>', description: 'off (default) or enforce: check every action against the policies' },
  { flags: '--server-cert <file>', description: 'PEM certificate the instance presents (with --server-key)' },
  { flags: '--server-key <file>', description: 'PEM private key of --server-cert' },
]

const CREATE_SYNOPSIS = '--id ID --protocol mqtt|amqp [--hostname NAME]... [--backend-kind tcp|embedded] [--backend-host H --backend-port P] [--backend-username U] [--backend-vhost V] [--access-type ANY_TUNNEL|SINGLE_TUNNEL] [--vpc-id VPC] [--authorization off|enforce] [--server-cert FILE --server-key FILE] [-f BODY.json|yaml|-]'

/** The body from `--file` (`-`: stdin) overlaid with the individual flags. Passwords only via the file. */
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

const LIST_COLUMNS = ['id', 'protocol', 'hostnames', 'accessType', 'vpcId', 'authorization.mode', 'backend.kind', 'backend.host', 'backend.port']
const ID = { flags: '--id <id>', description: 'the instance id (or give it as the argument)' } as const

const create: LeafSpec = {
  name: 'create',
  synopsis: CREATE_SYNOPSIS,
  summary: 'create an instance (a broker behind the gateway, reached by its hostnames)',
  options: [{ flags: '--id <id>', description: 'the instance id' }, { flags: '--protocol <protocol>', description: 'mqtt or amqp' }, ...FIELD_OPTIONS],
  async run(ctx, parsed) {
    const client = await adminClient(ctx)
    ctx.print(await client.json('POST', '/v1/instances', { body: await bodyFrom(ctx, parsed) }))
    return 0
  },
}

const list: LeafSpec = {
  name: 'list',
  synopsis: '',
  summary: 'list the instances',
  async run(ctx) {
    ctx.print(await (await adminClient(ctx)).listAll('/v1/instances'), { columns: LIST_COLUMNS })
    return 0
  },
}

const show: LeafSpec = {
  name: 'show',
  synopsis: 'ID',
  summary: 'show one instance',
  args: ['[id]'],
  options: [ID],
  async run(ctx, parsed) {
    const id = oneId(parsed.positionals, str(parsed, 'id'), 'an instance id')
    ctx.print(await (await adminClient(ctx)).json('GET', `/v1/instances/${seg(id)}`))
    return 0
  },
}

const update: LeafSpec = {
  name: 'update',
  synopsis: 'ID [same options as create, except --id/--protocol]',
  summary: 'change an instance (only the fields given)',
  args: ['[id]'],
  options: [ID, ...FIELD_OPTIONS],
  async run(ctx, parsed) {
    const id = oneId(parsed.positionals, str(parsed, 'id'), 'an instance id')
    const body = await bodyFrom(ctx, parsed)
    delete body['id']
    ctx.print(await (await adminClient(ctx)).json('PATCH', `/v1/instances/${seg(id)}`, { body }))
    return 0
  },
}

/** `--force` deletes an instance that still holds ACTIVE CAs or devices (else INSTANCE_IN_USE). */
const remove: LeafSpec = {
  name: 'delete',
  synopsis: 'ID [--force] [--yes]',
  summary: 'delete an instance; --force: even while it holds ACTIVE CAs or devices',
  details: '--yes confirms the delete; --force confirms it too, and deletes an instance that still holds ACTIVE CA or device certificates (else INSTANCE_IN_USE).',
  args: ['[id]'],
  options: [ID, { flags: '--force', description: 'delete even while the instance holds ACTIVE CAs or devices (and confirm)' }],
  destructive: true,
  async run(ctx, parsed) {
    const id = oneId(parsed.positionals, str(parsed, 'id'), 'an instance id')
    const force = flag(parsed, 'force')
    const client = await adminClient(ctx)
    await confirm(ctx, parsed, `delete instance ${id}${force ? ' with its CAs and devices' : ''}`)
    await client.request('DELETE', `/v1/instances/${seg(id)}`, force ? { query: { force: 'true' } } : {})
    ctx.print({ deleted: id, ...(force ? { forced: true } : {}) })
    return 0
  },
}

/**
 * `instance rotate-backend-password ID [--password P | --generate]` →
 * `POST /v1/instances/{id}/backend-password {password?}` → `{instanceId, password?, generated}`.
 * A generated password is in the answer this once: the operator sets it on the broker.
 */
const rotateBackendPassword: LeafSpec = {
  name: 'rotate-backend-password',
  synopsis: 'ID [--password P | --generate]',
  summary: 'replace the password the gateway logs in to the broker with (generated: printed once)',
  details: 'Without --password the gateway generates one and answers it this once: set it on the broker for the instance\'s backend user (e.g. rabbitmqctl change_password USER PASSWORD). The gateway uses the new password for new broker connections.',
  args: ['[id]'],
  options: [ID, { flags: '--password <password>', description: 'the new password (it is stored sealed and never shown again)' }, { flags: '--generate', description: 'let the gateway generate one (the default)' }],
  async run(ctx, parsed) {
    const id = oneId(parsed.positionals, str(parsed, 'id'), 'an instance id')
    const password = str(parsed, 'password')
    if (password !== undefined && flag(parsed, 'generate')) throw new CliError('USAGE', 'give --password P or --generate, not both')
    if (password === '') throw new CliError('USAGE', '--password must not be empty')
    const answer = await (await adminClient(ctx)).json('POST', `/v1/instances/${seg(id)}/backend-password`, { body: password === undefined ? {} : { password } })
    ctx.print(answer)
    const generated = (answer as { generated?: unknown; password?: unknown } | undefined)
    if (generated?.generated === true && typeof generated.password === 'string') {
      ctx.io.stderr.write(`portcullis: the generated password above is shown this once: set it on the broker for the backend user of instance ${id} now; new broker connections use it from now on\n`)
    }
    return 0
  },
}

export const instanceGroup: GroupSpec = {
  name: 'instance',
  section: 'Instances',
  summary: 'brokers behind the gateway: protocol, hostnames, backend, tunnel rule, authorization mode',
  commands: [create, list, show, update, remove, rotateBackendPassword],
}
