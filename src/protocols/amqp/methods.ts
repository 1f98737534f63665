/**
 * AMQP 0-9-1 Connection class methods (class 10), the gateway's part of the handshake (§2.2.4):
 *
 *   client                              server
 *   protocol header  ------------------>
 *                    <------------------ Start      (10,10)
 *   Start-Ok (10,11) ------------------>
 *                    <------------------ Secure     (10,20)  } optional, repeated
 *   Secure-Ok(10,21) ------------------>                     }
 *                    <------------------ Tune       (10,30)
 *   Tune-Ok  (10,31) ------------------>
 *   Open     (10,40) ------------------>
 *                    <------------------ Open-Ok    (10,41)
 *   Close (10,50) / Close-Ok (10,51) from either side
 *
 *  method frame payload (§4.2.4)
 *  +----------+-----------+---------------------------------------------+
 *  | class-id | method-id | arguments, in the order of the XML spec     |
 *  | u16      | u16       | (octet, short, long, shortstr, longstr,     |
 *  |          |           |  table, bits packed LSB first)              |
 *  +----------+-----------+---------------------------------------------+
 *  Start      octet major, octet minor, table server-properties, longstr mechanisms, longstr locales
 *  Start-Ok   table client-properties, shortstr mechanism, longstr response, shortstr locale
 *  Secure     longstr challenge            Secure-Ok  longstr response
 *  Tune/-Ok   short channel-max, long frame-max, short heartbeat
 *  Open       shortstr virtual-host, shortstr reserved-1, bit reserved-2
 *  Open-Ok    shortstr reserved-1
 *  Close      short reply-code, shortstr reply-text, short class-id, short method-id
 *  Close-Ok   (none)
 *
 * Decoders never throw: a short or overlong argument list is a 502 syntax-error result.
 */
import { assertNever } from '../../errors'
import { DEFAULT_FIELD_TABLE_LIMITS, Budget, encodeFieldTable, readFieldTable } from './field-table'
import type { FieldTable, FieldTableLimits } from './field-table'
import { FRAME_TYPES, encodeFrame } from './frame-codec'
import { REPLY_CODES } from './reply-codes'
import { WireError, WireReader, WireWriter } from './wire'

export { encodeHeartbeat } from './frame-codec'
export { parseAmqplainResponse, parsePlainResponse } from './sasl'

export const CONNECTION_CLASS = 10

export const CONNECTION_METHODS = {
  'connection.start': 10,
  'connection.start-ok': 11,
  'connection.secure': 20,
  'connection.secure-ok': 21,
  'connection.tune': 30,
  'connection.tune-ok': 31,
  'connection.open': 40,
  'connection.open-ok': 41,
  'connection.close': 50,
  'connection.close-ok': 51,
} as const

export interface Tune {
  readonly channelMax: number
  readonly frameMax: number
  readonly heartbeat: number
}

export type ConnectionMethod =
  | {
      readonly name: 'connection.start'
      readonly versionMajor: number
      readonly versionMinor: number
      /** Undefined when decoded with `skipServerProperties` (encoded as an empty table). */
      readonly serverProperties: FieldTable | undefined
      readonly mechanisms: string
      readonly locales: string
    }
  | {
      readonly name: 'connection.start-ok'
      readonly clientProperties: FieldTable
      readonly mechanism: string
      readonly response: Buffer
      readonly locale: string
    }
  | { readonly name: 'connection.secure'; readonly challenge: Buffer }
  | { readonly name: 'connection.secure-ok'; readonly response: Buffer }
  | ({ readonly name: 'connection.tune' } & Tune)
  | ({ readonly name: 'connection.tune-ok' } & Tune)
  | {
      readonly name: 'connection.open'
      readonly virtualHost: string
      /** reserved-1 ("capabilities" in 0-8); clients send "". */
      readonly capabilities: string
      /** reserved-2 ("insist" in 0-8). */
      readonly insist: boolean
    }
  | { readonly name: 'connection.open-ok'; /** reserved-1 ("known-hosts"). */ readonly knownHosts: string }
  | {
      readonly name: 'connection.close'
      readonly replyCode: number
      readonly replyText: string
      readonly classId: number
      readonly methodId: number
    }
  | { readonly name: 'connection.close-ok' }

export type ConnectionMethodName = ConnectionMethod['name']

/** A method of another class (or an unknown connection method), passed on undecoded. */
export interface OtherMethod {
  readonly name: 'other'
  readonly classId: number
  readonly methodId: number
  readonly args: Buffer
}

export type MethodDecodeResult =
  | { readonly ok: true; readonly method: ConnectionMethod | OtherMethod }
  | { readonly ok: false; readonly detail: string; readonly replyCode: number }

export interface MethodDecodeOptions {
  /**
   * Connection.Start's server-properties are only measured and stepped over, not decoded. The
   * gateway's own login to its broker reads the mechanisms and nothing else of the broker's Start,
   * and decoding RabbitMQ's table (capabilities, copyright, platform…) was a tenth of the bytes
   * V8 allocated per AMQP connection.
   */
  readonly skipServerProperties?: boolean
}

export function decodeMethod(payload: Buffer, limits: FieldTableLimits = DEFAULT_FIELD_TABLE_LIMITS, options: MethodDecodeOptions = {}): MethodDecodeResult {
  try {
    const reader = new WireReader(payload)
    const classId = reader.u16('class-id')
    const methodId = reader.u16('method-id')
    const method = classId === CONNECTION_CLASS ? readConnectionMethod(methodId, reader, new Budget(limits), options) : undefined
    if (method === undefined) return { ok: true, method: { name: 'other', classId, methodId, args: payload.subarray(4) } }
    if (!reader.atEnd()) throw new WireError(`${reader.remaining()} octets after the ${method.name} arguments`)
    return { ok: true, method }
  } catch (err) {
    const detail = err instanceof WireError ? err.message : 'malformed method frame'
    return { ok: false, detail, replyCode: REPLY_CODES.SYNTAX_ERROR }
  }
}

function readConnectionMethod(methodId: number, r: WireReader, budget: Budget, options: MethodDecodeOptions): ConnectionMethod | undefined {
  switch (methodId) {
    case 10:
      return {
        name: 'connection.start',
        versionMajor: r.u8('version-major'),
        versionMinor: r.u8('version-minor'),
        serverProperties: options.skipServerProperties === true ? skipTable(r) : readFieldTable(r, budget),
        mechanisms: r.longstrBytes('mechanisms').toString('utf8'),
        locales: r.longstrBytes('locales').toString('utf8'),
      }
    case 11:
      return {
        name: 'connection.start-ok',
        clientProperties: readFieldTable(r, budget),
        mechanism: r.shortstr('mechanism'),
        response: Buffer.from(r.longstrBytes('response')),
        locale: r.shortstr('locale'),
      }
    case 20:
      return { name: 'connection.secure', challenge: Buffer.from(r.longstrBytes('challenge')) }
    case 21:
      return { name: 'connection.secure-ok', response: Buffer.from(r.longstrBytes('response')) }
    case 30:
      return { name: 'connection.tune', ...readTune(r) }
    case 31:
      return { name: 'connection.tune-ok', ...readTune(r) }
    case 40:
      return {
        name: 'connection.open',
        virtualHost: r.shortstr('virtual-host'),
        capabilities: r.shortstr('reserved-1'),
        insist: (r.u8('reserved-2') & 0x01) !== 0,
      }
    case 41:
      return { name: 'connection.open-ok', knownHosts: r.shortstr('reserved-1') }
    case 50:
      return {
        name: 'connection.close',
        replyCode: r.u16('reply-code'),
        replyText: r.shortstr('reply-text'),
        classId: r.u16('class-id'),
        methodId: r.u16('method-id'),
      }
    case 51:
      return { name: 'connection.close-ok' }
    default:
      return undefined
  }
}

/** A field table's length is read and its bytes stepped over (a table is a longstr on the wire). */
function skipTable(r: WireReader): undefined {
  r.longstrBytes('server-properties')
  return undefined
}

function readTune(r: WireReader): Tune {
  return { channelMax: r.u16('channel-max'), frameMax: r.u32('frame-max'), heartbeat: r.u16('heartbeat') }
}

const NO_FIELDS: FieldTable = new Map()

/** The method frame payload (class-id, method-id, arguments). Throws RangeError on bad values. */
export function encodeMethod(method: ConnectionMethod): Buffer {
  const w = new WireWriter().u16(CONNECTION_CLASS).u16(CONNECTION_METHODS[method.name])
  switch (method.name) {
    case 'connection.start':
      return w
        .u8(method.versionMajor)
        .u8(method.versionMinor)
        .raw(encodeFieldTable(method.serverProperties ?? NO_FIELDS))
        .longstr(method.mechanisms)
        .longstr(method.locales)
        .toBuffer()
    case 'connection.start-ok':
      return w
        .raw(encodeFieldTable(method.clientProperties))
        .shortstr(method.mechanism)
        .longstr(method.response)
        .shortstr(method.locale)
        .toBuffer()
    case 'connection.secure':
      return w.longstr(method.challenge).toBuffer()
    case 'connection.secure-ok':
      return w.longstr(method.response).toBuffer()
    case 'connection.tune':
    case 'connection.tune-ok':
      return w.u16(method.channelMax).u32(method.frameMax).u16(method.heartbeat).toBuffer()
    case 'connection.open':
      return w.shortstr(method.virtualHost).shortstr(method.capabilities).u8(method.insist ? 1 : 0).toBuffer()
    case 'connection.open-ok':
      return w.shortstr(method.knownHosts).toBuffer()
    case 'connection.close':
      return w
        .u16(method.replyCode)
        .shortstr(truncateShortstr(method.replyText))
        .u16(method.classId)
        .u16(method.methodId)
        .toBuffer()
    case 'connection.close-ok':
      return w.toBuffer()
    default:
      return assertNever(method, 'connection method')
  }
}

/** A complete method frame; connection methods travel on channel 0 (§4.2.4, §2.3.5). */
export function encodeMethodFrame(method: ConnectionMethod, channel = 0): Buffer {
  return encodeFrame(FRAME_TYPES.METHOD, channel, encodeMethod(method))
}

/** reply-text is a shortstr: cut to 255 octets on a character boundary rather than fail a Close. */
function truncateShortstr(text: string): string {
  let out = text.slice(0, 0xff)
  while (Buffer.byteLength(out, 'utf8') > 0xff) out = out.slice(0, -1)
  return out
}
