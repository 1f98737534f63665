import { mkdir, open, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { AuditEvent } from '../event'
import { readFileTail } from './file-tail'
import { toJsonLines, type AuditSink } from './sink'

/**
 * Audit events appended as JSON lines to a file (DESIGN §3 `{kind: file, path}`).
 *
 * The file is opened once with flags 'a' (O_APPEND: every write lands at the end, even if another
 * writer appended meanwhile); a batch is one append. No fsync per event: the audit path must not
 * wait on the disk (DESIGN §3 "the data path never blocks on a sink"); the OS flushes, and `close`
 * syncs. One file is one chain: `chainHead` is the last event's hash found on open. Give each
 * gateway process its own file, or two chains interleave and `audit verify` fails.
 */
export class FileSink implements AuditSink {
  readonly name: string

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    readonly chainHead: string | undefined,
    private needsNewline: boolean,
    name: string,
  ) {
    this.name = name
  }

  static async open(path: string, opts: { name?: string } = {}): Promise<FileSink> {
    await mkdir(dirname(path), { recursive: true })
    const tail = await readFileTail(path)
    const handle = await open(path, 'a', 0o640)
    return new FileSink(path, handle, tail.lastHash, !tail.endsWithNewline, opts.name ?? 'file')
  }

  async write(batch: AuditEvent[]): Promise<void> {
    // After a torn last line, start on a fresh line so the torn one stays a single bad line.
    const text = this.needsNewline ? `\n${toJsonLines(batch)}` : toJsonLines(batch)
    await this.handle.appendFile(text, 'utf8')
    this.needsNewline = false
  }

  async close(): Promise<void> {
    try {
      await this.handle.sync()
    } finally {
      await this.handle.close()
    }
  }
}
