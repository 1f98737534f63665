import type { SessionIdentity } from '../session-registry'
import type { Identified } from './context'

/** The identity a connection is registered and re-checked under, from its identified phase on. */
export function sessionIdentity(ctx: Identified<unknown> | Omit<Identified<unknown>, 'phase'>): SessionIdentity {
  return {
    instanceId: ctx.instance.id,
    protocol: ctx.listener.protocol,
    sourceIp: ctx.source.ip,
    sourcePort: ctx.source.port,
    ...(ctx.source.vpcId !== undefined ? { vpcId: ctx.source.vpcId } : {}),
    ...ctx.identity,
  }
}
