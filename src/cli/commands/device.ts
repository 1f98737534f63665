import { writeFile } from 'node:fs/promises'
import { isAbsolute, join } from 'node:path'
import { CliError } from '../cli-error'
import { flag, oneId, parse, readText, required, str } from '../args'
import { printJson } from '../io'
import { adminClient, seg, type Subcommand } from './context'

/** `portcullis device list|show|download|register|activate|deactivate|revoke` (DESIGN §1 devices). */
const INSTANCE = { instance: { type: 'string', short: 'i' } } as const

function devicesPath(instanceId: string, deviceId?: string): string {
  const base = `/v1/instances/${seg(instanceId)}/devices`
  return deviceId === undefined ? base : `${base}/${seg(deviceId)}`
}

const list: Subcommand = async (ctx, args) => {
  const parsed = parse(args, { ...INSTANCE, ca: { type: 'string' }, status: { type: 'string' } })
  if (parsed.positionals.length > 0) throw new CliError('USAGE', `unexpected argument ${parsed.positionals[0] ?? ''}`)
  const instanceId = required(str(parsed, 'instance'), '--instance')
  const status = str(parsed, 'status')?.toUpperCase()
  printJson(ctx.io, await (await adminClient(ctx, parsed)).listAll(devicesPath(instanceId), { caId: str(parsed, 'ca'), status }))
  return 0
}

const show: Subcommand = async (ctx, args) => {
  const parsed = parse(args, { ...INSTANCE, id: { type: 'string' }, pem: { type: 'boolean' } })
  const instanceId = required(str(parsed, 'instance'), '--instance')
  const deviceId = oneId(parsed.positionals, str(parsed, 'id'), 'a device id')
  const client = await adminClient(ctx, parsed)
  if (flag(parsed, 'pem')) {
    ctx.io.stdout.write(String(await client.json('GET', devicesPath(instanceId, deviceId), { query: { format: 'pem' } })))
  } else {
    printJson(ctx.io, await client.json('GET', devicesPath(instanceId, deviceId)))
  }
  return 0
}

/** The device certificate as PEM, to stdout or `--out FILE`. */
const download: Subcommand = async (ctx, args) => {
  const parsed = parse(args, { ...INSTANCE, id: { type: 'string' }, out: { type: 'string', short: 'o' } })
  const instanceId = required(str(parsed, 'instance'), '--instance')
  const deviceId = oneId(parsed.positionals, str(parsed, 'id'), 'a device id')
  const pem = String(await (await adminClient(ctx, parsed)).json('GET', devicesPath(instanceId, deviceId), { query: { format: 'pem' } }))
  const out = str(parsed, 'out')
  if (out === undefined) ctx.io.stdout.write(pem)
  else await writeFile(isAbsolute(out) ? out : join(ctx.io.cwd, out), pem)
  return 0
}

const register: Subcommand = async (ctx, args) => {
  const parsed = parse(args, { ...INSTANCE, cert: { type: 'string' }, status: { type: 'string' } })
  const instanceId = required(str(parsed, 'instance'), '--instance')
  const body: Record<string, unknown> = { certificate: await readText(ctx.io, required(str(parsed, 'cert'), '--cert FILE')) }
  const status = str(parsed, 'status')
  if (status !== undefined) body['status'] = status.toUpperCase()
  printJson(ctx.io, await (await adminClient(ctx, parsed)).json('POST', devicesPath(instanceId), { body }))
  return 0
}

function transition(action: 'activate' | 'deactivate' | 'revoke'): Subcommand {
  return async (ctx, args) => {
    const parsed = parse(args, { ...INSTANCE, id: { type: 'string' } })
    const instanceId = required(str(parsed, 'instance'), '--instance')
    const deviceId = oneId(parsed.positionals, str(parsed, 'id'), 'a device id')
    printJson(ctx.io, await (await adminClient(ctx, parsed)).json('POST', `${devicesPath(instanceId, deviceId)}/${action}`))
    return 0
  }
}

export const deviceCommands: Record<string, Subcommand> = {
  list, show, download, register,
  activate: transition('activate'), deactivate: transition('deactivate'), revoke: transition('revoke'),
}
