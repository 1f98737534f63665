import { readText, required, str } from '../args'
import { CliError } from '../cli-error'
import { aligned } from '../output'
import type { LeafSpec } from './context'
import { adminClient } from './context'

/**
 * `portcullis explain --instance ID (--cert CHAIN.pem | --username U --password P)` → `POST
 * /v1/explain` (DESIGN §4 "Operator interfaces"): would this client be admitted now, and which rule
 * decides? The gateway runs its own admission decisions (src/admin/routes/explain.ts); nothing is
 * decided here. Exits 0 when the client would be admitted, 1 when it would be refused (like
 * `audit verify` on a broken chain), so a script can branch on it.
 */
export interface ExplainAnswer {
  admitted: boolean
  reason: string | null
  decidedBy: string
  checks: Array<{ check: string; result: string; detail: string }>
}

function table(value: unknown): string {
  const a = value as ExplainAnswer
  const verdict = a.admitted ? 'admitted' : `refused ${a.reason ?? '(undecided)'}`
  const rows = [['CHECK', 'RESULT', 'DETAIL'], ...a.checks.map((c) => [c.check, c.result, c.detail])]
  return `${verdict}: ${a.decidedBy}\n\n${aligned(rows)}`
}

export const explainCommand: LeafSpec = {
  name: 'explain',
  synopsis: '--instance ID (--cert CHAIN.pem | --username U --password P) [--client-id C] [--vhost V] [--source-ip IP] [--vpc-id VPC]',
  summary: 'would this client be admitted now, and which rule decides (reason code)?',
  details: [
    'MQTT: --cert is the client certificate chain as the device presents it (leaf first, PEM); --client-id and --username are what its CONNECT says.',
    'AMQP: --username/--password are the login as the client sends it (e.g. from derive-credentials); --vhost the vhost it opens (default /).',
    '--source-ip and --vpc-id say where it connects from (blacklisted addresses, Single Tunnel). The password is sent to the gateway to be checked and is never shown.',
    'The answer shows the records the rules read (CA, device, blacklist entry, an AccessKey\'s state): the action admin:Explain is granted like the read actions.',
    'Exit code 0: admitted; 1: refused (or an error).',
  ].join('\n'),
  options: [
    { flags: '-i, --instance <id>', description: 'the instance the client connects to (its SNI)' },
    { flags: '--cert <file>', description: 'MQTT: the client certificate chain (PEM, leaf first)' },
    { flags: '--username <user>', description: 'AMQP: the userName; MQTT: the CONNECT username' },
    { flags: '--password <password>', description: 'AMQP: the password (checked by the gateway, never echoed)' },
    { flags: '--client-id <id>', description: 'MQTT: the CONNECT clientId (decides mqtt:Connect and clientId blacklist entries)' },
    { flags: '--vhost <vhost>', description: 'AMQP: the vhost the client opens (decides amqp:Connect; default /)' },
    { flags: '--source-ip <ip>', description: 'the client address (ip blacklist entries)' },
    { flags: '--vpc-id <vpc>', description: 'the VPC the client connects from (Single Tunnel instances)' },
  ],
  async run(ctx, parsed) {
    const instanceId = required(str(parsed, 'instance'), '--instance')
    const certFile = str(parsed, 'cert')
    const username = str(parsed, 'username')
    const password = str(parsed, 'password')
    if (certFile === undefined && password === undefined) throw new CliError('USAGE', 'give --cert CHAIN.pem (MQTT) or --username U --password P (AMQP)')
    if (certFile !== undefined && password !== undefined) throw new CliError('USAGE', '--cert (MQTT) and --password (AMQP) do not go together')
    if (password !== undefined && username === undefined) throw new CliError('USAGE', '--password needs --username')
    const optional = (key: string, value: string | undefined): Record<string, string> => (value === undefined ? {} : { [key]: value })
    const body = {
      instanceId,
      ...(certFile !== undefined ? { certificate: await readText(ctx.io, certFile) } : {}),
      ...optional('username', username),
      ...optional('password', password),
      ...optional('clientId', str(parsed, 'client-id')),
      ...optional('vhost', str(parsed, 'vhost')),
      ...optional('sourceIp', str(parsed, 'source-ip')),
      ...optional('vpcId', str(parsed, 'vpc-id')),
    }
    const answer = (await (await adminClient(ctx)).json('POST', '/v1/explain', { body })) as ExplainAnswer
    ctx.print(answer, { table })
    if (answer.admitted) return 0
    ctx.io.stderr.write(`portcullis: would be refused${answer.reason === null ? '' : ` ${answer.reason}`}: ${answer.decidedBy}\n`)
    return 1
  },
}
