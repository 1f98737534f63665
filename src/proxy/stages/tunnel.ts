import { tunnelAdmits } from '../../policy/tunnel'
import type { Identified, Secured } from '../lifecycle/context'
import { next, reject, type Rejection, type Step } from '../verdict'
import type { InstanceRecord } from '../../store/records'
import type { Source } from '../lifecycle/context'

/**
 * Any Tunnel / Single Tunnel (DESIGN §1): a connection from outside a Single Tunnel instance's
 * bound VPC is refused. It runs as early as the instance is known — inside the TLS handshake when
 * SNI names it (tls-handshake.ts), right after TLS for a listener's default instance, and once
 * more when the protocol identified the client (an AMQP userName names the instance).
 */
export function tunnelAfterTls(ctx: Secured): Step<Secured> {
  const refusal = ctx.instance === undefined ? undefined : tunnelRefusal(ctx.instance, ctx.source)
  return refusal ?? next(ctx)
}

export function tunnelIdentified<H>(ctx: Identified<H>): Step<Identified<H>> {
  return tunnelRefusal(ctx.instance, ctx.source) ?? next(ctx)
}

export function tunnelRefusal(instance: InstanceRecord, source: Source): Rejection | undefined {
  if (tunnelAdmits(instance, source.vpcId)) return undefined
  return reject('TUNNEL_DENIED', `instance ${instance.id} admits only VPC ${instance.vpcId ?? '(none)'}; connection from ${source.vpcId ?? 'a public network'}`)
}
