import { decidedBy } from '../../../authorization/explain'
import type { PipelineDeps } from '../../../proxy/deps'
import type { Identified } from '../../../proxy/lifecycle/context'
import { sessionIdentity } from '../../../proxy/lifecycle/session-view'
import { next, reject, type Step } from '../../../proxy/verdict'
import type { MqttHello } from '../phases'

/**
 * DESIGN §4 `mqtt:Connect`: on an enforcing instance, the clientId the device presents must be
 * one its policies allow (resource `mqtt:<instance>:client/<clientId>`), which is how an operator
 * binds clientIds to certificates (`client/${certCommonName}`). A CONNECT with a Will needs
 * `mqtt:Publish` on the Will's topic too: the broker publishes it in the client's name, past the
 * session's filter. Refused NOT_AUTHORIZED: CONNACK 0x05 (3.1.1) / 0x87 (5). Instances that do not
 * enforce pass at once.
 */
export function mqttAuthorizeConnect(ctx: Identified<MqttHello>, deps: Pick<PipelineDeps, 'authorization'>): Step<Identified<MqttHello>> {
  const identity = sessionIdentity(ctx)
  const decision = deps.authorization.connect(identity)
  if (decision === undefined) return next(ctx)
  const { clientId, willTopic } = ctx.hello.connect
  if (!decision.allowed) return reject('NOT_AUTHORIZED', `mqtt:Connect with clientId ${JSON.stringify(clientId)} is not allowed${decidedBy(decision)}`)
  if (willTopic === undefined) return next(ctx)
  const will = deps.authorization.will(identity, willTopic)
  if (will === undefined || will.allowed) return next(ctx)
  return reject('NOT_AUTHORIZED', `mqtt:Publish of the Will on ${JSON.stringify(willTopic)} is not allowed${decidedBy(will)}`)
}
