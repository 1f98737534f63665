import { statSync } from 'node:fs'
import { mkdir, open, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { AuditEvent } from '../event'
import { readFileTail } from './file-tail'
import { toJsonLines, type AuditSink } from './sink'

/**
 * Audit events appended as JSON lines to a file (DESIGN §3 `{kind: file, path}`).
 *
 * The file is opened with flags 'a' (O_APPEND: every write lands at the end); a batch is one
 * append. No fsync per event: the audit path must not wait on the disk (DESIGN §3 "the data path
 * never blocks on a sink"); the OS flushes, and `close` and a reopen sync. One file is one chain:
 * `chainHead` is the last event's hash found on open. Give each gateway process its own file.
 *
 * Faults (docs/audit.md "Gaps"):
 * - **The path is followed, not the inode.** Before each batch the path is stat'ed: when the file
 *   is gone (its directory removed) or is another inode (renamed away by logrotate), the sink
 *   recreates the directory and opens the path anew, so events never go to a deleted inode where
 *   nobody will read them. `reopen()` (SIGHUP) does the same at once, whatever the inode. The stat
 *   is synchronous on purpose: about 3 µs of CPU against 36 µs for fs/promises' (a thread-pool round
 *   trip), measured here; under a connection storm the promise version was 4–5 % of the gateway's
 *   busy time (--cpu-prof of `npm run bench -- --only connect`). Audit files are on a local disk:
 *   a network file system that can hang a stat is no place for them.
 * - **Whole lines only.** A write cut short (ENOSPC after part of a batch) is undone by truncating
 *   the file back to where the batch started, and the batch fails (the queue counts it and writes an
 *   `audit.gap` in its place once the disk takes writes again). Why truncate rather than only start
 *   the next write with a newline: the torn line would stay in the file as an unparsable line and
 *   `audit verify` would fail on it forever; cut back, the file is exactly its complete lines. That
 *   is safe because the file has one writer (above). If the truncate itself fails, the next batch
 *   starts on a new line, so the torn line stays a single bad line and nothing is glued to it.
 */
export class FileSink implements AuditSink {
  readonly name: string
  private handle: FileHandle | undefined
  private inode: { dev: number; ino: number } | undefined
  /** Every write, reopen and close runs in this order, one at a time (a SIGHUP may come mid-write). */
  private serial: Promise<unknown> = Promise.resolve()

  private constructor(
    readonly path: string,
    readonly chainHead: string | undefined,
    private needsNewline: boolean,
    name: string,
  ) {
    this.name = name
  }

  static async open(path: string, opts: { name?: string } = {}): Promise<FileSink> {
    await mkdir(dirname(path), { recursive: true })
    const tail = await readFileTail(path)
    const sink = new FileSink(path, tail.lastHash, !tail.endsWithNewline, opts.name ?? 'file')
    await sink.openPath()
    return sink
  }

  write(batch: AuditEvent[]): Promise<void> {
    return this.inOrder(() => this.append(batch))
  }

  /** Closes the current file and opens the path again (logrotate's `postrotate kill -HUP`). */
  reopen(): Promise<void> {
    return this.inOrder(async () => {
      await this.closeHandle()
      await this.openPath()
    })
  }

  close(): Promise<void> {
    return this.inOrder(() => this.closeHandle())
  }

  private inOrder<T>(work: () => Promise<T>): Promise<T> {
    const run = this.serial.then(work)
    this.serial = run.catch(() => undefined)
    return run
  }

  private async append(batch: AuditEvent[]): Promise<void> {
    const { handle, size } = await this.currentFile()
    // After a torn last line, start on a fresh line so the torn one stays a single bad line.
    const bytes = Buffer.from(this.needsNewline ? `\n${toJsonLines(batch)}` : toJsonLines(batch), 'utf8')
    let written = 0
    try {
      while (written < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, written, bytes.length - written, null)
        written += bytesWritten
      }
    } catch (err) {
      if (written > 0) await this.cutBack(handle, size)
      throw err
    }
    this.needsNewline = false
  }

  /** The open file if the path still names it, else the path opened anew; and where its end is. */
  private async currentFile(): Promise<{ handle: FileHandle; size: number }> {
    if (this.handle !== undefined && this.inode !== undefined) {
      // throwIfNoEntry: false answers undefined for a removed file (or directory) instead of throwing.
      const current = statSync(this.path, { throwIfNoEntry: false })
      if (current !== undefined && current.ino === this.inode.ino && current.dev === this.inode.dev) {
        return { handle: this.handle, size: current.size }
      }
      await this.closeHandle()
    }
    return this.openPath()
  }

  private async openPath(): Promise<{ handle: FileHandle; size: number }> {
    await mkdir(dirname(this.path), { recursive: true })
    const handle = await open(this.path, 'a', 0o640)
    try {
      const { dev, ino, size } = await handle.stat()
      // A file found at the path (logrotate `create`, or a torn one) may not end with a newline.
      this.needsNewline = size > 0 && !(await readFileTail(this.path)).endsWithNewline
      this.handle = handle
      this.inode = { dev, ino }
      return { handle, size }
    } catch (err) {
      await handle.close().catch(() => undefined)
      throw err
    }
  }

  private async cutBack(handle: FileHandle, size: number): Promise<void> {
    try {
      await handle.truncate(size)
    } catch {
      this.needsNewline = true
    }
  }

  private async closeHandle(): Promise<void> {
    const handle = this.handle
    this.handle = undefined
    this.inode = undefined
    if (handle === undefined) return
    try {
      await handle.sync()
    } catch {
      // The file may be on a disk that is gone or full; closing matters more than the last flush.
    } finally {
      await handle.close().catch(() => undefined)
    }
  }
}
