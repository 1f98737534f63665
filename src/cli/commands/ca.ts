import { confirm } from '../confirm'
import { oneId, readText, required, str } from '../args'
import type { GroupSpec, OptionSpec } from '../spec'
import { adminClient, seg, type LeafSpec } from './context'

/**
 * `portcullis ca code|register|list|show|activate|deactivate|delete` (DESIGN §1 CA registration):
 * `ca code` gets the registration code to put in the verification certificate's CN; `ca register`
 * uploads the CA certificate with that verification certificate.
 */
const INSTANCE: OptionSpec = { flags: '-i, --instance <id>', description: 'the MQTT instance' }
const CA_ID: OptionSpec = { flags: '--id <caId>', description: 'the CA id (or give it as the argument)' }
const COLUMNS = ['id', 'status', 'subject', 'notAfter']

function casPath(instanceId: string, caId?: string): string {
  const base = `/v1/instances/${seg(instanceId)}/cas`
  return caId === undefined ? base : `${base}/${seg(caId)}`
}

const code: LeafSpec = {
  name: 'code',
  synopsis: '--instance ID',
  summary: 'issue a registration code (CN of the verification certificate)',
  details: 'The code is single use and valid for an hour; sign a certificate with CN=<code> with the CA key and pass it to `ca register --verification`.',
  options: [INSTANCE],
  async run(ctx, parsed) {
    const instanceId = required(str(parsed, 'instance'), '--instance')
    ctx.print(await (await adminClient(ctx)).json('POST', `/v1/instances/${seg(instanceId)}/registration-code`))
    return 0
  },
}

const register: LeafSpec = {
  name: 'register',
  synopsis: '--instance ID --ca FILE --verification FILE [--status ACTIVE|INACTIVE]',
  summary: 'register a CA (root or intermediate) that proves it holds its key',
  options: [
    INSTANCE,
    { flags: '--ca <file>', description: 'the CA certificate (PEM)' },
    { flags: '--verification <file>', description: 'a certificate with CN=<registration code>, signed by the CA key' },
    { flags: '--status <status>', description: 'ACTIVE (default) or INACTIVE' },
  ],
  async run(ctx, parsed) {
    const instanceId = required(str(parsed, 'instance'), '--instance')
    const body: Record<string, unknown> = {
      caCertificate: await readText(ctx.io, required(str(parsed, 'ca'), '--ca FILE')),
      verificationCertificate: await readText(ctx.io, required(str(parsed, 'verification'), '--verification FILE')),
    }
    const status = str(parsed, 'status')
    if (status !== undefined) body['status'] = status.toUpperCase()
    ctx.print(await (await adminClient(ctx)).json('POST', casPath(instanceId), { body }))
    return 0
  },
}

const list: LeafSpec = {
  name: 'list',
  synopsis: '--instance ID',
  summary: 'list the CAs of an instance',
  options: [INSTANCE],
  async run(ctx, parsed) {
    const instanceId = required(str(parsed, 'instance'), '--instance')
    ctx.print(await (await adminClient(ctx)).listAll(casPath(instanceId)), { columns: COLUMNS })
    return 0
  },
}

const show: LeafSpec = {
  name: 'show',
  synopsis: '--instance ID CA_ID',
  summary: 'show one CA',
  args: ['[caId]'],
  options: [INSTANCE, CA_ID],
  async run(ctx, parsed) {
    const instanceId = required(str(parsed, 'instance'), '--instance')
    const caId = oneId(parsed.positionals, str(parsed, 'id'), 'a CA id')
    ctx.print(await (await adminClient(ctx)).json('GET', casPath(instanceId, caId)))
    return 0
  },
}

function transition(action: 'activate' | 'deactivate', summary: string): LeafSpec {
  return {
    name: action,
    synopsis: '--instance ID CA_ID',
    summary,
    args: ['[caId]'],
    options: [INSTANCE, CA_ID],
    async run(ctx, parsed) {
      const instanceId = required(str(parsed, 'instance'), '--instance')
      const caId = oneId(parsed.positionals, str(parsed, 'id'), 'a CA id')
      ctx.print(await (await adminClient(ctx)).json('POST', `${casPath(instanceId, caId)}/${action}`))
      return 0
    },
  }
}

const remove: LeafSpec = {
  name: 'delete',
  synopsis: '--instance ID CA_ID [--yes]',
  summary: 'delete a CA (refused while it has ACTIVE devices)',
  args: ['[caId]'],
  options: [INSTANCE, CA_ID],
  destructive: true,
  async run(ctx, parsed) {
    const instanceId = required(str(parsed, 'instance'), '--instance')
    const caId = oneId(parsed.positionals, str(parsed, 'id'), 'a CA id')
    const client = await adminClient(ctx)
    await confirm(ctx, parsed, `delete CA ${caId} of instance ${instanceId}`)
    await client.request('DELETE', casPath(instanceId, caId))
    ctx.print({ deleted: caId })
    return 0
  },
}

export const caGroup: GroupSpec = {
  name: 'ca',
  section: 'CA certificates (MQTT instances)',
  summary: 'the CAs whose device certificates an MQTT instance admits',
  commands: [
    code, register, list, show,
    transition('activate', 'activate a CA: its devices may connect again'),
    transition('deactivate', 'deactivate a CA: its devices are refused and their sessions closed'),
    remove,
  ],
}
