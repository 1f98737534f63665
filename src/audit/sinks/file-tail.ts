import { open } from 'node:fs/promises'
import { isChainHash } from '../hash-chain'

/** How far back from the end of the file to look for the last complete event. */
const TAIL_WINDOW = 1024 * 1024

export interface FileTail {
  /** `hash` of the last parsable event in the file's tail, if any. */
  lastHash?: string
  /** False when the file is non-empty and its last byte is not a newline (a write cut short). */
  endsWithNewline: boolean
}

/**
 * Reads the end of an audit file to continue its chain after a restart, so one file is one chain.
 * A torn last line (crash mid-write) is skipped: the chain continues from the last whole event, and
 * `audit verify` still reports the torn line as unparsable, which is the truth. A missing file is
 * an empty one.
 */
export async function readFileTail(path: string): Promise<FileTail> {
  let handle
  try {
    handle = await open(path, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { endsWithNewline: true }
    throw err
  }
  try {
    const { size } = await handle.stat()
    if (size === 0) return { endsWithNewline: true }
    const length = Math.min(size, TAIL_WINDOW)
    const buffer = Buffer.alloc(length)
    await handle.read(buffer, 0, length, size - length)
    const endsWithNewline = buffer[length - 1] === 0x0a
    const lines = buffer.toString('utf8').split('\n')
    // When the window starts mid-file, its first piece is a partial line: never trust it.
    const firstWhole = length < size ? 1 : 0
    for (let i = lines.length - 1; i >= firstWhole; i--) {
      const hash = hashOf(lines[i] ?? '')
      if (hash !== undefined) return { lastHash: hash, endsWithNewline }
    }
    return { endsWithNewline }
  } finally {
    await handle.close()
  }
}

function hashOf(line: string): string | undefined {
  if (line.trim() === '') return undefined
  try {
    const parsed = JSON.parse(line) as { hash?: unknown }
    return isChainHash(parsed.hash) ? parsed.hash : undefined
  } catch {
    return undefined
  }
}
