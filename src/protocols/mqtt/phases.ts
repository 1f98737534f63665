import type { X509Certificate } from 'node:crypto'
import type { CaRecord, DeviceRecord, InstanceRecord } from '../../store/records'
import type { Secured } from '../../proxy/lifecycle/context'
import type { ConnectInfo } from './connect-decoder'

/**
 * MQTT's own phases between `secured` and `identified` (src/proxy/lifecycle/context.ts): a device
 * proves who it is with its certificate before it says anything, so the chain and the device
 * record come first, then the CONNECT.
 */
export interface ChainVerified extends Omit<Secured, 'phase' | 'instance'> {
  readonly phase: 'mqtt-chain-verified'
  readonly instance: InstanceRecord
  /** The verified client chain, leaf first. */
  readonly peerChain: readonly X509Certificate[]
  readonly ca: CaRecord
}

export interface DeviceKnown extends Omit<ChainVerified, 'phase'> {
  readonly phase: 'mqtt-device-known'
  readonly device: DeviceRecord
}

/** What MQTT carries from `identified` to `ready`. */
export interface MqttHello {
  readonly connect: ConnectInfo
  /** Exact CONNECT bytes, forwarded unchanged unless credentials are rewritten. */
  readonly raw: Buffer
  /** Bytes the client sent after the CONNECT (pipelined packets); forwarded after it. */
  readonly rest: Buffer
  /** The device record, for the certificate identity a rewritten CONNECT may carry. */
  readonly device: DeviceRecord
}
