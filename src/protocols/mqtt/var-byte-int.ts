/**
 * MQTT Variable Byte Integer (MQTT 5 §1.5.5, MQTT 3.1.1 §2.2.3): seven bits per byte, least
 * significant group first, top bit = "more bytes follow", at most four bytes [MQTT-1.5.5-1].
 *
 *   byte 0           byte 1           byte 2           byte 3
 *  +-+-------+      +-+-------+      +-+-------+      +-+-------+
 *  |C| 7 bit |  ->  |C| 7 bit |  ->  |C| 7 bit |  ->  |0| 7 bit |     max 268,435,455
 *  +-+-------+      +-+-------+      +-+-------+      +-+-------+
 */
export type VarByteIntResult =
  | { readonly kind: 'need-more' }
  | { readonly kind: 'ok'; readonly value: number; readonly length: number }
  | { readonly kind: 'error'; readonly detail: string }

export const MAX_VAR_BYTE_INT_LENGTH = 4

export function readVarByteInt(buf: Buffer, offset: number): VarByteIntResult {
  let value = 0
  for (let i = 0; i < MAX_VAR_BYTE_INT_LENGTH; i += 1) {
    const byte = buf[offset + i]
    if (byte === undefined) return { kind: 'need-more' }
    value += (byte & 0x7f) * 128 ** i
    if ((byte & 0x80) === 0) return { kind: 'ok', value, length: i + 1 }
  }
  return { kind: 'error', detail: 'variable byte integer longer than four bytes' }
}

export function encodeVarByteInt(value: number): Buffer {
  const out: number[] = []
  let rest = value
  do {
    let byte = rest % 128
    rest = Math.floor(rest / 128)
    if (rest > 0) byte |= 0x80
    out.push(byte)
  } while (rest > 0)
  return Buffer.from(out)
}
