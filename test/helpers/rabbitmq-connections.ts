/**
 * What the machine's RabbitMQ itself says about its connections (`rabbitmqctl list_connections`,
 * JSON): the broker-side view the warm pool tests check — which client-properties a connection
 * announced, the frame-max and heartbeat it was tuned to, its state — and a way to close one as an
 * operator would (`rabbitmqctl close_connection`).
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface BrokerConnection {
  /** `client:port -> broker:port`: unique while the connection lives. */
  name: string
  clientProperties: Record<string, unknown>
  frameMax: number | undefined
  /** The heartbeat in seconds (0 = none). */
  heartbeat: number | undefined
  state: string
}

type Encoded = [string, string, unknown]

/** rabbitmqctl's `[[name, type, value]…]` tables as plain objects (nested tables too). */
function decodeTable(entries: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (!Array.isArray(entries)) return out
  for (const [name, type, value] of entries as Encoded[]) out[name] = type === 'table' ? decodeTable(value) : value
  return out
}

export async function brokerConnections(): Promise<BrokerConnection[]> {
  const { stdout } = await run('rabbitmqctl', ['list_connections', 'name', 'client_properties', 'frame_max', 'timeout', 'state', '--formatter', 'json', '-q'], { timeout: 30_000 })
  const rows = JSON.parse(stdout.trim() === '' ? '[]' : stdout) as Array<Record<string, unknown>>
  return rows.map((row) => ({
    name: String(row.name),
    clientProperties: decodeTable(row.client_properties),
    frameMax: typeof row.frame_max === 'number' ? row.frame_max : undefined,
    heartbeat: typeof row.timeout === 'number' ? row.timeout : undefined,
    state: String(row.state),
  }))
}

/** The `portcullis` table a gateway connection announced (pool_connection_id, process_id, or connection_id). */
export function portcullisProperties(c: BrokerConnection): Record<string, unknown> | undefined {
  const p = c.clientProperties.portcullis
  return typeof p === 'object' && p !== null ? p as Record<string, unknown> : undefined
}

/** The broker's connections from one gateway's warm pool. */
export async function pooledConnectionsOf(processId: string): Promise<BrokerConnection[]> {
  return (await brokerConnections()).filter((c) => portcullisProperties(c)?.process_id === processId)
}

/** Closes connections by name, as an operator would (the JSON formatter's pids are not ones close_connection takes). */
export async function closeBrokerConnections(names: readonly string[], explanation: string): Promise<void> {
  const { stdout } = await run('rabbitmqctl', ['list_connections', 'pid', 'name', '-q'], { timeout: 30_000 })
  const pids = names.map((name) => {
    const line = stdout.split('\n').find((l) => l.endsWith(`\t${name}`))
    if (line === undefined) throw new Error(`no broker connection named ${name}`)
    return line.split('\t')[0] ?? ''
  })
  await Promise.all(pids.map((pid) => run('rabbitmqctl', ['close_connection', pid, explanation], { timeout: 30_000 })))
}
