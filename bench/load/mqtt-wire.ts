import mqttPacket from 'mqtt-packet'

/**
 * Pre-encoded MQTT 3.1.1 packets and a counting parser, so that the generator spends its time on
 * sockets rather than on mqtt.js (issue 5 §2: "pre-encode packets and write them on raw sockets").
 *
 *   fixed header: type<<4|flags (1 octet), remaining length (1-4 octets, 7 bits each, LSB first)
 *   MQTT 3.1.1 §2.2.3
 */
const CLIENT_ID_DIGITS = 12

/** A CONNECT whose client identifier ends in 12 digits, patched in place per connection. */
export class ConnectTemplate {
  private readonly packet: Buffer
  private readonly digitsAt: number

  constructor(prefix: string) {
    const clientId = prefix + '0'.repeat(CLIENT_ID_DIGITS)
    // keepalive 0: idle connections send no PINGREQ, so the idle-memory run measures holding only.
    this.packet = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 0 })
    this.digitsAt = this.packet.indexOf(Buffer.from(clientId)) + prefix.length
  }

  /** A fresh copy for connection number `n` (unique client ids: Mosquitto drops a duplicate). */
  encode(n: number): Buffer {
    const out = Buffer.from(this.packet)
    out.write(String(n).padStart(CLIENT_ID_DIGITS, '0').slice(-CLIENT_ID_DIGITS), this.digitsAt, 'latin1')
    return out
  }
}

export const DISCONNECT = Buffer.from([0xe0, 0x00])

export function encodeSubscribe(topic: string): Buffer {
  return mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] })
}

export function encodePublish(topic: string, payload: Buffer): Buffer {
  return mqttPacket.generate({ cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false })
}

/** PUBLISH packets repeated to at least `minBytes`: one write carries many messages. */
export function publishChunk(topic: string, payloadBytes: number, minBytes = 64 * 1024): { chunk: Buffer; messages: number } {
  const one = encodePublish(topic, Buffer.alloc(payloadBytes, 0x61))
  const messages = Math.max(1, Math.ceil(minBytes / one.length))
  return { chunk: Buffer.concat(Array.from({ length: messages }, () => one)), messages }
}

export const PACKET = { CONNACK: 2, PUBLISH: 3, SUBACK: 9 } as const

/**
 * Incremental MQTT packet scanner: counts PUBLISH packets and bytes without copying payloads.
 * The body of other packets (CONNACK, SUBACK) is kept and handed over; a PUBLISH body only when
 * `keepPublish` is set (the latency probe reads its timestamp).
 */
export class MqttScanner {
  publishes = 0
  bytes = 0
  private header: number[] = []
  private remaining = 0
  private type = 0
  private body: Buffer[] | undefined

  constructor(private readonly onPacket: (type: number, body: Buffer | undefined) => void, private readonly keepPublish = false) {}

  push(chunk: Buffer): void {
    this.bytes += chunk.length
    let i = 0
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, chunk.length - i)
        this.body?.push(chunk.subarray(i, i + n))
        this.remaining -= n
        i += n
        if (this.remaining === 0) this.finish()
        continue
      }
      this.header.push(chunk[i++] ?? 0)
      const last = this.header[this.header.length - 1] ?? 0
      if (this.header.length >= 2 && (last & 0x80) === 0) this.startBody()
    }
  }

  private startBody(): void {
    let length = 0
    for (let k = this.header.length - 1; k >= 1; k--) length = length * 128 + ((this.header[k] ?? 0) & 0x7f)
    this.type = (this.header[0] ?? 0) >> 4
    this.header = []
    if (this.type === PACKET.PUBLISH) this.publishes++
    this.body = this.type !== PACKET.PUBLISH || this.keepPublish ? [] : undefined
    this.remaining = length
    if (length === 0) this.finish()
  }

  private finish(): void {
    const body = this.body === undefined ? undefined : Buffer.concat(this.body)
    this.body = undefined
    this.onPacket(this.type, body)
  }
}
