import { CliError } from './cli-error'

export interface SseMessage {
  id?: string
  data: string
}

/** A line longer than this is not an audit event from our server: stop rather than buffer it. */
const MAX_LINE_BYTES = 4 * 1024 * 1024

/**
 * Server-sent events from a byte stream (WHATWG HTML §9.2.6 "Interpreting an event stream"), the
 * subset `/v1/audit/stream` uses: `id:` and `data:` fields (several `data:` lines join with `\n`),
 * a blank line dispatches, lines starting with `:` are comments (heartbeats) and are skipped.
 */
export async function* readSse(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<SseMessage> {
  const decoder = new TextDecoder()
  let buffer = ''
  let id: string | undefined
  let data: string[] = []
  for await (const chunk of chunks) {
    buffer += decoder.decode(chunk, { stream: true })
    let newline: number
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline).replace(/\r$/, '')
      buffer = buffer.slice(newline + 1)
      if (line === '') {
        if (data.length > 0) yield { ...(id !== undefined ? { id } : {}), data: data.join('\n') }
        id = undefined
        data = []
        continue
      }
      if (line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'data') data.push(value)
      else if (field === 'id') id = value
    }
    if (buffer.length > MAX_LINE_BYTES) throw new CliError('BAD_RESPONSE', 'the audit stream sent an over-long line')
  }
}
