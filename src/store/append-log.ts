/**
 * The embedded store's durable medium: a file of JSON lines, one line per write, fsync'd before
 * the write is acknowledged (Store guarantee: a write has resolved only once it is durable).
 *
 *   store.log   {"op":"put",...}\n{"op":"del",...}\n{"op":"pu      <- torn tail after a crash
 *
 * A crash can only tear the last line (lines are appended one at a time and each is fsync'd
 * before the next starts), so a last line that does not parse is dropped: its write never
 * resolved. Any other line that does not parse is corruption, and opening fails rather than
 * silently losing data.
 *
 * Compaction rewrites the live state as a fresh file: write a temporary file, fsync it, rename it
 * over the log, fsync the directory (so the rename itself survives a crash).
 *
 * A log that cannot be written (the start-up compaction failed on a full or read-only disk, or an
 * append failed) is read-only: appends are refused STORE_READ_ONLY until a `rewrite` succeeds, and
 * `writeState` says so, for readiness. The log on disk stays the last complete one throughout.
 */
import { open, readFile, rename, rm } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { PortcullisError } from '../errors'

export interface LogContents {
  values: unknown[]
  /** A last line that was cut short by a crash (and ignored). */
  tornTail: boolean
}

const FILE_MODE = 0o600

/** Errors that mean "this disk cannot take writes now", as opposed to a bug or a lost device. */
const CANNOT_WRITE = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'EFBIG'])

export function isCannotWrite(err: unknown): boolean {
  return CANNOT_WRITE.has(String((err as NodeJS.ErrnoException | undefined)?.code))
}

export type LogWriteState = { writable: true } | { writable: false; cause: string }

export class AppendLog {
  private broken = false
  /** Why the last append or the start-up compaction failed, until a write succeeds again. */
  private failure: string | undefined
  private appendsSinceRewrite = 0

  private constructor(
    private handle: FileHandle | undefined,
    private size: number,
    private readonly dir: string,
    private readonly file: string,
  ) {}

  /** Reads every complete line of `dir/file`; a missing file is an empty log. */
  static async read(dir: string, file: string): Promise<LogContents> {
    let text: string
    try {
      text = await readFile(join(dir, file), 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { values: [], tornTail: false }
      throw err
    }
    const lines = text.split('\n')
    const tail = lines.pop() ?? ''
    const values = lines.map((line, index) => parseLine(line, index + 1, file))
    if (tail === '') return { values, tornTail: false }
    // The tail has no newline, so its append was interrupted; keep it only if it is whole.
    try {
      values.push(JSON.parse(tail) as unknown)
      return { values, tornTail: false }
    } catch {
      return { values, tornTail: true }
    }
  }

  /** Replaces `dir/file` with exactly `values` (crash-safe) and opens it for appending. */
  static async create(dir: string, file: string, values: Iterable<unknown>): Promise<AppendLog> {
    const size = await writeSnapshot(dir, file, values)
    const handle = await open(join(dir, file), 'a', FILE_MODE)
    return new AppendLog(handle, size, dir, file)
  }

  /** A log that serves what was read but refuses appends until `rewrite` succeeds. */
  static readOnly(dir: string, file: string, cause: string): AppendLog {
    const log = new AppendLog(undefined, 0, dir, file)
    log.failure = cause
    return log
  }

  writeState(): LogWriteState {
    if (this.handle === undefined || this.broken || this.failure !== undefined) {
      return { writable: false, cause: this.failure ?? 'the log could not be repaired after a failed write' }
    }
    return { writable: true }
  }

  get appendedSinceRewrite(): number {
    return this.appendsSinceRewrite
  }

  /** Appends one line and fsyncs. Callers serialise appends (one at a time). */
  async append(value: unknown): Promise<void> {
    const handle = this.handle
    if (handle === undefined || this.broken) {
      throw new PortcullisError('STORE_READ_ONLY', `the store is read-only (${this.failure ?? 'the log could not be repaired after a failed write'})`)
    }
    const bytes = Buffer.from(`${JSON.stringify(value)}\n`, 'utf8')
    try {
      let written = 0
      while (written < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, written, bytes.length - written, null)
        written += bytesWritten
      }
      await handle.datasync()
    } catch (err) {
      await this.undoPartialAppend(handle)
      const code = String((err as NodeJS.ErrnoException).code ?? 'EIO')
      this.failure = `a write failed (${code})`
      if (isCannotWrite(err)) throw new PortcullisError('STORE_READ_ONLY', `the store cannot write (${code}); it serves reads only until it can`, { cause: err })
      throw new PortcullisError('STORE_UNAVAILABLE', 'could not write the store log', { cause: err })
    }
    this.failure = undefined
    this.size += bytes.length
    this.appendsSinceRewrite += 1
  }

  /** Compacts to `values`; on failure the current log stays in place and in use. */
  async rewrite(values: Iterable<unknown>): Promise<void> {
    const size = await writeSnapshot(this.dir, this.file, values)
    const handle = await open(join(this.dir, this.file), 'a', FILE_MODE)
    await this.handle?.close().catch(() => undefined)
    this.handle = handle
    this.size = size
    this.appendsSinceRewrite = 0
    this.broken = false
    this.failure = undefined
  }

  async close(): Promise<void> {
    await this.handle?.close()
  }

  /**
   * A failed write may have left part of a line behind; later lines after it would make the log
   * unreadable. Cut the file back to its last good length, or refuse further writes.
   */
  private async undoPartialAppend(handle: FileHandle): Promise<void> {
    try {
      await handle.truncate(this.size)
      await handle.datasync()
    } catch {
      this.broken = true
    }
  }
}

function parseLine(line: string, lineNumber: number, file: string): unknown {
  try {
    return JSON.parse(line) as unknown
  } catch (err) {
    throw new PortcullisError('INTERNAL', `${file} is corrupt at line ${lineNumber}`, { cause: err })
  }
}

async function writeSnapshot(dir: string, file: string, values: Iterable<unknown>): Promise<number> {
  const temp = join(dir, `${file}.tmp`)
  const handle = await open(temp, 'w', FILE_MODE)
  let size = 0
  try {
    const chunk: string[] = []
    for (const value of values) {
      chunk.push(`${JSON.stringify(value)}\n`)
      if (chunk.length >= 1000) size += await writeAll(handle, chunk.splice(0))
    }
    size += await writeAll(handle, chunk)
    await handle.sync()
  } catch (err) {
    await handle.close().catch(() => undefined)
    await rm(temp, { force: true }).catch(() => undefined)
    throw err
  }
  await handle.close()
  await rename(temp, join(dir, file))
  await syncDir(dir)
  return size
}

async function writeAll(handle: FileHandle, lines: string[]): Promise<number> {
  if (lines.length === 0) return 0
  const bytes = Buffer.from(lines.join(''), 'utf8')
  let written = 0
  while (written < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, written, bytes.length - written, null)
    written += bytesWritten
  }
  return bytes.length
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
