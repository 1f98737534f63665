import { CliError } from './cli-error'
import type { CliIo } from './io'

/**
 * Stdin read whole, for a file option given as `-`. The cap is the admin API's default body
 * limit (`limits.maxAdminBodyBytes`): a larger document would be refused anyway, and a command
 * fed an endless pipe by mistake stops instead of filling memory.
 */
export const MAX_STDIN_BYTES = 1024 * 1024

/** The runs whose stdin was read: it can be read once, so a second `-` has nothing left. */
const consumed = new WeakSet<CliIo>()

export async function readStdin(io: CliIo): Promise<string> {
  const stdin = io.stdin
  if (stdin === undefined) throw new CliError('USAGE', '- reads stdin, and this run has none')
  if (consumed.has(io)) throw new CliError('USAGE', 'stdin (-) can be given to one option only: it is read once')
  consumed.add(io)
  if (stdin.isTTY === true) io.stderr.write('portcullis: reading stdin; end it with Ctrl-D\n')
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stdin) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk
    size += bytes.length
    if (size > MAX_STDIN_BYTES) throw new CliError('USAGE', `stdin holds more than ${MAX_STDIN_BYTES} bytes, more than any request may`)
    chunks.push(bytes)
  }
  return Buffer.concat(chunks).toString('utf8')
}
