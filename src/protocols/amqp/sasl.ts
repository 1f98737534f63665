/**
 * The SASL responses carried in Connection.Start-Ok `response` (§2.2.4, RabbitMQ access control).
 *
 *  PLAIN (RFC 4616 §2)                         AMQPLAIN (RabbitMQ / 0-8 heritage)
 *  +---------+----+---------+----+--------+    +----------------------------------------------+
 *  | authzid | \0 | authcid | \0 | passwd |    | field-value pairs WITHOUT the u32 table size: |
 *  | (often  |    | user    |    |        |    | LOGIN 'S' longstr, PASSWORD 'S' longstr      |
 *  |  empty) |    |         |    |        |    +----------------------------------------------+
 *  +---------+----+---------+----+--------+
 *
 * Both must be well-formed UTF-8 (RFC 4616 §2); parsers return an error result, never throw.
 */
import { decodeFieldTableBody } from './field-table'
import type { FieldTable } from './field-table'

export type SaslCredentialsResult =
  | { readonly ok: true; readonly username: string; readonly password: string; readonly authzid?: string }
  | { readonly ok: false; readonly detail: string }

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

function utf8(bytes: Buffer): string | undefined {
  try {
    return strictUtf8.decode(bytes)
  } catch {
    return undefined
  }
}

export function parsePlainResponse(response: Buffer): SaslCredentialsResult {
  const first = response.indexOf(0)
  const second = first < 0 ? -1 : response.indexOf(0, first + 1)
  if (second < 0) return { ok: false, detail: 'PLAIN response needs two NUL separators' }
  if (response.indexOf(0, second + 1) >= 0) return { ok: false, detail: 'PLAIN response has more than two NULs' }
  const authzid = utf8(response.subarray(0, first))
  const username = utf8(response.subarray(first + 1, second))
  const password = utf8(response.subarray(second + 1))
  if (authzid === undefined || username === undefined || password === undefined) {
    return { ok: false, detail: 'PLAIN response is not UTF-8' }
  }
  // RFC 4616 §2: authcid and passwd are non-empty.
  if (username === '' || password === '') return { ok: false, detail: 'PLAIN user name or password is empty' }
  return authzid === '' ? { ok: true, username, password } : { ok: true, username, password, authzid }
}

export function parseAmqplainResponse(response: Buffer): SaslCredentialsResult {
  const decoded = decodeFieldTableBody(response, { maxDepth: 1, maxValues: 64 })
  if (!decoded.ok) return { ok: false, detail: `AMQPLAIN response: ${decoded.detail}` }
  const username = text(decoded.table, 'LOGIN')
  const password = text(decoded.table, 'PASSWORD')
  if (username === undefined || password === undefined) {
    return { ok: false, detail: 'AMQPLAIN response needs LOGIN and PASSWORD long strings' }
  }
  if (username === '') return { ok: false, detail: 'AMQPLAIN LOGIN is empty' }
  return { ok: true, username, password }
}

function text(table: FieldTable, name: string): string | undefined {
  const field = table.get(name)
  return field?.tag === 'S' ? utf8(field.value) : undefined
}
