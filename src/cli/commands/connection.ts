import { oneId, str } from '../args'
import { confirm } from '../confirm'
import type { GroupSpec } from '../spec'
import { adminClient, seg, type LeafSpec } from './context'

/**
 * `portcullis connection list [--instance ID]` and `connection kick CONN_ID` → `GET
 * /v1/connections`, `DELETE /v1/connections/{connId}` (DESIGN §3, §4 "Operator interfaces"). With
 * several replicas the list and the kick reach every one of them (the store's broadcast channel).
 */
const COLUMNS = ['connId', 'instanceId', 'protocol', 'sourceIp', 'clientId', 'deviceId', 'accessKeyId', 'startedAt']

const list: LeafSpec = {
  name: 'list',
  synopsis: '[--instance ID]',
  summary: 'the live sessions (every replica), with who they are',
  options: [{ flags: '-i, --instance <id>', description: 'only the sessions of this instance' }],
  async run(ctx, parsed) {
    const instanceId = str(parsed, 'instance')
    ctx.print(await (await adminClient(ctx)).listAll('/v1/connections', { instanceId }), { columns: COLUMNS })
    return 0
  },
}

const kick: LeafSpec = {
  name: 'kick',
  synopsis: 'CONN_ID [--yes]',
  summary: 'close a live session (reason ADMIN_KICK); the client may reconnect',
  details: 'To keep a client out, add a blacklist entry: it closes the matching live sessions too.',
  args: ['[connId]'],
  options: [{ flags: '--id <connId>', description: 'the connection id (or give it as the argument)' }],
  destructive: true,
  async run(ctx, parsed) {
    const connId = oneId(parsed.positionals, str(parsed, 'id'), 'a connection id')
    const client = await adminClient(ctx)
    await confirm(ctx, parsed, `close connection ${connId}`)
    await client.request('DELETE', `/v1/connections/${seg(connId)}`)
    ctx.print({ kicked: connId })
    return 0
  },
}

export const connectionGroup: GroupSpec = {
  name: 'connection',
  section: 'Connections and admission',
  summary: 'live sessions: list them, close one',
  commands: [list, kick],
}
