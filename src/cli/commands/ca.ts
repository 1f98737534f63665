import { CliError } from '../cli-error'
import { oneId, parse, readText, required, str } from '../args'
import { printJson } from '../io'
import { adminClient, seg, type Subcommand } from './context'

/**
 * `portcullis ca code|register|list|show|activate|deactivate|delete` (DESIGN §1 CA registration):
 * `ca code` gets the registration code to put in the verification certificate's CN; `ca register`
 * uploads the CA certificate with that verification certificate.
 */
const INSTANCE = { instance: { type: 'string', short: 'i' } } as const

function casPath(instanceId: string, caId?: string): string {
  const base = `/v1/instances/${seg(instanceId)}/cas`
  return caId === undefined ? base : `${base}/${seg(caId)}`
}

function noPositionals(positionals: string[]): void {
  if (positionals.length > 0) throw new CliError('USAGE', `unexpected argument ${positionals[0] ?? ''}`)
}

const code: Subcommand = async (ctx, args) => {
  const parsed = parse(args, INSTANCE)
  noPositionals(parsed.positionals)
  const instanceId = required(str(parsed, 'instance'), '--instance')
  printJson(ctx.io, await (await adminClient(ctx, parsed)).json('POST', `/v1/instances/${seg(instanceId)}/registration-code`))
  return 0
}

const register: Subcommand = async (ctx, args) => {
  const parsed = parse(args, { ...INSTANCE, ca: { type: 'string' }, verification: { type: 'string' }, status: { type: 'string' } })
  noPositionals(parsed.positionals)
  const instanceId = required(str(parsed, 'instance'), '--instance')
  const body: Record<string, unknown> = {
    caCertificate: await readText(ctx.io, required(str(parsed, 'ca'), '--ca FILE')),
    verificationCertificate: await readText(ctx.io, required(str(parsed, 'verification'), '--verification FILE')),
  }
  const status = str(parsed, 'status')
  if (status !== undefined) body['status'] = status.toUpperCase()
  printJson(ctx.io, await (await adminClient(ctx, parsed)).json('POST', casPath(instanceId), { body }))
  return 0
}

const list: Subcommand = async (ctx, args) => {
  const parsed = parse(args, INSTANCE)
  noPositionals(parsed.positionals)
  const instanceId = required(str(parsed, 'instance'), '--instance')
  printJson(ctx.io, await (await adminClient(ctx, parsed)).listAll(casPath(instanceId)))
  return 0
}

const show: Subcommand = async (ctx, args) => {
  const parsed = parse(args, { ...INSTANCE, id: { type: 'string' } })
  const instanceId = required(str(parsed, 'instance'), '--instance')
  const caId = oneId(parsed.positionals, str(parsed, 'id'), 'a CA id')
  printJson(ctx.io, await (await adminClient(ctx, parsed)).json('GET', casPath(instanceId, caId)))
  return 0
}

function transition(action: 'activate' | 'deactivate'): Subcommand {
  return async (ctx, args) => {
    const parsed = parse(args, { ...INSTANCE, id: { type: 'string' } })
    const instanceId = required(str(parsed, 'instance'), '--instance')
    const caId = oneId(parsed.positionals, str(parsed, 'id'), 'a CA id')
    printJson(ctx.io, await (await adminClient(ctx, parsed)).json('POST', `${casPath(instanceId, caId)}/${action}`))
    return 0
  }
}

const remove: Subcommand = async (ctx, args) => {
  const parsed = parse(args, { ...INSTANCE, id: { type: 'string' } })
  const instanceId = required(str(parsed, 'instance'), '--instance')
  const caId = oneId(parsed.positionals, str(parsed, 'id'), 'a CA id')
  await (await adminClient(ctx, parsed)).request('DELETE', casPath(instanceId, caId))
  printJson(ctx.io, { deleted: caId })
  return 0
}

export const caCommands: Record<string, Subcommand> = {
  code, register, list, show, activate: transition('activate'), deactivate: transition('deactivate'), delete: remove,
}
