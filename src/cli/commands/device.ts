import { writeFile } from 'node:fs/promises'
import { isAbsolute, join } from 'node:path'
import { confirm } from '../confirm'
import { flag, oneId, readText, required, str } from '../args'
import type { GroupSpec, OptionSpec } from '../spec'
import { adminClient, seg, type LeafSpec } from './context'

/** `portcullis device list|show|download|register|activate|deactivate|revoke` (DESIGN §1 devices). */
const INSTANCE: OptionSpec = { flags: '-i, --instance <id>', description: 'the MQTT instance' }
const DEVICE_ID: OptionSpec = { flags: '--id <deviceId>', description: 'the device id: SHA-256 of the certificate (or give it as the argument)' }
const COLUMNS = ['id', 'status', 'caId', 'commonName', 'notAfter', 'registeredBy']

function devicesPath(instanceId: string, deviceId?: string): string {
  const base = `/v1/instances/${seg(instanceId)}/devices`
  return deviceId === undefined ? base : `${base}/${seg(deviceId)}`
}

const list: LeafSpec = {
  name: 'list',
  synopsis: '--instance ID [--ca CA_ID] [--status ACTIVE|INACTIVE|REVOKED]',
  summary: 'list the device certificates of an instance',
  options: [INSTANCE, { flags: '--ca <caId>', description: 'only the devices under this CA' }, { flags: '--status <status>', description: 'only ACTIVE, INACTIVE or REVOKED devices' }],
  async run(ctx, parsed) {
    const instanceId = required(str(parsed, 'instance'), '--instance')
    const status = str(parsed, 'status')?.toUpperCase()
    ctx.print(await (await adminClient(ctx)).listAll(devicesPath(instanceId), { caId: str(parsed, 'ca'), status }), { columns: COLUMNS })
    return 0
  },
}

const show: LeafSpec = {
  name: 'show',
  synopsis: '--instance ID DEVICE_ID [--pem]',
  summary: 'show one device certificate (--pem: the certificate itself)',
  args: ['[deviceId]'],
  options: [INSTANCE, DEVICE_ID, { flags: '--pem', description: 'print the certificate as PEM instead of its record' }],
  async run(ctx, parsed) {
    const instanceId = required(str(parsed, 'instance'), '--instance')
    const deviceId = oneId(parsed.positionals, str(parsed, 'id'), 'a device id')
    const client = await adminClient(ctx)
    if (flag(parsed, 'pem')) {
      ctx.io.stdout.write(String(await client.json('GET', devicesPath(instanceId, deviceId), { query: { format: 'pem' } })))
    } else {
      ctx.print(await client.json('GET', devicesPath(instanceId, deviceId)))
    }
    return 0
  },
}

/** The device certificate as PEM, to stdout or `--out FILE`. */
const download: LeafSpec = {
  name: 'download',
  synopsis: '--instance ID DEVICE_ID [--out FILE]',
  summary: 'write the device certificate as PEM (to stdout, or FILE)',
  args: ['[deviceId]'],
  options: [INSTANCE, DEVICE_ID, { flags: '-o, --out <file>', description: 'the file to write (default: stdout)' }],
  async run(ctx, parsed) {
    const instanceId = required(str(parsed, 'instance'), '--instance')
    const deviceId = oneId(parsed.positionals, str(parsed, 'id'), 'a device id')
    const pem = String(await (await adminClient(ctx)).json('GET', devicesPath(instanceId, deviceId), { query: { format: 'pem' } }))
    const out = str(parsed, 'out')
    if (out === undefined) ctx.io.stdout.write(pem)
    else await writeFile(isAbsolute(out) ? out : join(ctx.io.cwd, out), pem)
    return 0
  },
}

const register: LeafSpec = {
  name: 'register',
  synopsis: '--instance ID --cert FILE [--status ACTIVE|INACTIVE]',
  summary: 'register a device certificate before its first connection',
  options: [INSTANCE, { flags: '--cert <file>', description: 'the device certificate (PEM), issued by a registered CA' }, { flags: '--status <status>', description: 'ACTIVE (default) or INACTIVE' }],
  async run(ctx, parsed) {
    const instanceId = required(str(parsed, 'instance'), '--instance')
    const body: Record<string, unknown> = { certificate: await readText(ctx.io, required(str(parsed, 'cert'), '--cert FILE')) }
    const status = str(parsed, 'status')
    if (status !== undefined) body['status'] = status.toUpperCase()
    ctx.print(await (await adminClient(ctx)).json('POST', devicesPath(instanceId), { body }))
    return 0
  },
}

function transition(action: 'activate' | 'deactivate' | 'revoke', summary: string): LeafSpec {
  const destructive = action === 'revoke'
  return {
    name: action,
    synopsis: `--instance ID DEVICE_ID${destructive ? ' [--yes]' : ''}`,
    summary,
    args: ['[deviceId]'],
    options: [INSTANCE, DEVICE_ID],
    destructive,
    async run(ctx, parsed) {
      const instanceId = required(str(parsed, 'instance'), '--instance')
      const deviceId = oneId(parsed.positionals, str(parsed, 'id'), 'a device id')
      const client = await adminClient(ctx)
      if (destructive) await confirm(ctx, parsed, `revoke device ${deviceId} of instance ${instanceId} (for good: REVOKED is final)`)
      ctx.print(await client.json('POST', `${devicesPath(instanceId, deviceId)}/${action}`))
      return 0
    },
  }
}

export const deviceGroup: GroupSpec = {
  name: 'device',
  section: 'Device certificates',
  summary: 'device certificates under the CAs of an MQTT instance',
  commands: [
    list, show, download, register,
    transition('activate', 'activate a device certificate'),
    transition('deactivate', 'deactivate a device certificate: refused, its sessions closed'),
    transition('revoke', 'revoke a device certificate for good: refused, its sessions closed'),
  ],
}
