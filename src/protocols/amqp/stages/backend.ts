import { encodeMethodFrame, type Tune } from '../methods'
import { longstr, table, type FieldTable, type FieldValue } from '../field-table'
import { loginToBackend } from '../backend-login'
import { claimWarmHandshake } from '../backend-pool/handed-out'
import type { PipelineDeps } from '../../../proxy/deps'
import type { Connected, Ready } from '../../../proxy/lifecycle/context'
import { next, reject, type Step } from '../../../proxy/verdict'
import { amqpClose, closeFor } from '../close-frame'
import { sessionIdentity } from '../../../proxy/lifecycle/session-view'
import { decidedBy } from '../../../authorization/explain'
import type { AmqpHello } from '../phases'

/**
 * AMQP 0-9-1 §2.2.4, the second half: the gateway's own connection to the instance's RabbitMQ,
 * logged in with the backend credentials (PLAIN) — by this stage now (the cold path,
 * backend-login.ts), or ahead of the client by the warm pool (backend-pool/), whose connection
 * waits at the broker's Tune. Either way the stage then relays the broker's Tune to the client and
 * the client's Tune-Ok back, so that both ends agree on frame-max, channel-max and heartbeat, and
 * forwards Open (vhost passed through, or mapped to the instance's). Open-Ok — or the broker's
 * refusal of the vhost — comes back through the splice.
 */
export async function amqpBackend(ctx: Connected<AmqpHello>, deps: Pick<PipelineDeps, 'config' | 'authorization'>): Promise<Step<Ready<AmqpHello>>> {
  const { hello, upstream, instance } = ctx
  const warm = claimWarmHandshake(upstream)
  const login = warm?.tuned
    ?? await loginToBackend(upstream, ctx.signal, instance.backend, withGatewayProperties(hello.clientProperties, ctx), deps.config.limits.maxHandshakeFrameBytes)
  if (login.kind === 'reject') return login
  const { tune, frames: backend } = login

  ctx.client.write(encodeMethodFrame({ name: 'connection.tune', ...tune }))
  const tuneOk = await hello.frames.next()
  if (tuneOk.name !== 'connection.tune-ok') return clientOutOfOrder('connection.tune-ok', tuneOk.name)
  const open = await hello.frames.next()
  if (open.name !== 'connection.open') return clientOutOfOrder('connection.open', open.name)

  // The vhost as the client named it: its resources are `amqp:<instance>:<vhost>:…` whatever the
  // instance maps it to on the broker. An enforcing instance decides amqp:Connect on it here, the
  // first moment it is known (DESIGN §4), before the broker hears the Open.
  const identity = { ...ctx.identity, vhost: open.virtualHost }
  const decision = deps.authorization.connect({ ...sessionIdentity(ctx), vhost: open.virtualHost })
  if (decision !== undefined && !decision.allowed) {
    return reject('NOT_AUTHORIZED', `amqp:Connect on vhost ${open.virtualHost} is not allowed${decidedBy(decision)}`, closeFor('NOT_AUTHORIZED'))
  }
  const mappedVhost = instance.backend.vhost
  const tuned = agreed(tune, tuneOk)
  return next({
    ...ctx, phase: 'ready', identity,
    // A pooled connection's broker-side name, so that the audit events trace it to this client.
    ...(warm !== undefined ? { actor: { ...ctx.actor, backendConnection: warm.poolConnectionId } } : {}),
    hello: { ...hello, frameMax: tuned.frameMax },
    upstreamPreamble: [
      encodeMethodFrame({ ...tuneOk, ...tuned }),
      encodeMethodFrame(mappedVhost === undefined ? open : { ...open, virtualHost: mappedVhost }),
    ],
    downstreamPreamble: [],
    clientPipelined: hello.frames.drain(),
    brokerPipelined: backend.drain(),
  })
}

/**
 * §4.2.6: the client may lower the broker's proposals but not raise them (0 = no limit). A client
 * that asks for more is held to the broker's value, which is what the broker would enforce anyway.
 */
function agreed(server: Tune, client: Tune): { channelMax: number; frameMax: number } {
  const lower = (s: number, c: number): number => (s === 0 ? c : c === 0 ? s : Math.min(s, c))
  return { channelMax: lower(server.channelMax, client.channelMax), frameMax: lower(server.frameMax, client.frameMax) }
}

function clientOutOfOrder(expected: string, got: string): Step<never> {
  return reject('PROTOCOL_ERROR', `expected ${expected}, got ${got}`, amqpClose(503, `COMMAND_INVALID - expected ${expected}`))
}

/**
 * The client's own properties go to the broker (its management UI shows the real client, and
 * capabilities such as connection.blocked are honoured), plus the gateway's connection id so that
 * a broker-side connection can be traced to its audit events.
 */
function withGatewayProperties(client: FieldTable, ctx: Connected<AmqpHello>): FieldTable {
  const out = new Map<string, FieldValue>(client)
  out.set('portcullis', table([
    ['connection_id', longstr(ctx.id)],
    ['source', longstr(`${ctx.source.ip}:${ctx.source.port}`)],
  ]))
  return out
}
