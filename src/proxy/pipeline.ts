import type { ProtocolModule } from './lifecycle/protocol'
import { Chain, type Stage } from './lifecycle/chain'
import type { Accepted, Ready } from './lifecycle/context'
import { proxyHeader } from './stages/proxy-header'
import { blacklistAddress, blacklistIdentity } from './stages/blacklist'
import { tlsHandshake } from './stages/tls-handshake'
import { tunnelAfterTls, tunnelIdentified } from './stages/tunnel'
import { freshState } from './stages/fresh-state'
import { connectUpstream } from './stages/upstream'
import { recheckBeforeSplice } from './stages/recheck'
import { handshakeSlot, sourceLimits } from './stages/source-limits'

/**
 * The connection pipeline: the one place that knows the order of the stages. The protocol's own
 * stages (its `identify` and `forward` chains, src/protocols/<name>/module.ts) sit in the middle:
 *
 *   accept ─► PROXY header (trusted LBs; VPC identity) ─► per-source limits (rate, concurrency,
 *          failed logins) ─► blacklist (address) ─► a handshake slot (maxHandshakesInFlight)
 *          ─► TLS (SNI → instance; Single Tunnel checked inside the handshake) ─► tunnel ─► fresh state
 *          ─► [protocol identify]  MQTT: client certificate chain ─► device certificate ─► CONNECT
 *                                  AMQP: header, Start, Start-Ok ─► AccessKey credentials
 *          ─► tunnel (instance now known) ─► blacklist (identity)
 *          ─► upstream connect
 *          ─► [protocol forward]   MQTT: CONNECT (credentials maybe replaced)
 *                                  AMQP: backend login, Tune relay, Open
 *          ─► re-check against every rule ─► splice
 *
 * Guarantees (enforced by the runner, lifecycle/runner.ts):
 * - the chain's types line up: a stage takes the phase the previous one returns, checked when the
 *   pipeline is built, and at run time a stage that answers another phase closes the connection as
 *   an illegal state, counted;
 * - one deadline (`limits.handshakeTimeoutMs`) covers every stage before the splice; when it
 *   passes, the waiting stage is aborted and the connection refused with HANDSHAKE_TIMEOUT;
 * - stages return the next phase or a refusal and never close the client socket (they write only
 *   their protocol's handshake messages: AMQP Start, Tune); only the runner refuses and the splice
 *   closes, so every refusal is audited and counted exactly once;
 * - an exception from a stage (a store outage, say) refuses the connection: nothing is admitted on
 *   a check that could not be made, and nothing is admitted from a stale view of the store;
 * - no client bytes are read except through a capped decoder in a stage.
 */
export interface Pipeline {
  readonly stages: readonly Stage[]
}

export function pipelineFor<H>(protocol: ProtocolModule<H>): Pipeline {
  return Chain.start<Accepted>()
    .then('proxy-header', 'proxied', proxyHeader)
    .then('source-limits', 'proxied', sourceLimits)
    .then('blacklist-address', 'proxied', blacklistAddress)
    .then('handshake-slot', 'proxied', handshakeSlot)
    .then('tls', 'secured', tlsHandshake(protocol))
    .then('tunnel', 'secured', tunnelAfterTls)
    .then('fresh-state', 'secured', freshState)
    .concat(protocol.identify)
    .then('tunnel-identified', 'identified', tunnelIdentified)
    .then('blacklist', 'admitted', blacklistIdentity)
    .then('upstream', 'connected', connectUpstream(protocol))
    .concat(protocol.forward)
    .then<Ready<H>>('recheck', 'ready', recheckBeforeSplice)
}
