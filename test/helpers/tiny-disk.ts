/**
 * A real, tiny filesystem for disk-full tests: a tmpfs of `sizeKb` mounted on a temp directory
 * (needs root, as in the test containers). `fill()` takes every free byte with a filler file
 * (ENOSPC from then on), `free()` removes it. Answers undefined where mounting is not permitted, so
 * the caller can skip loudly.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, openSync, closeSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface TinyDisk {
  dir: string
  fill(): void
  free(): void
  unmount(): void
}

export function mountTinyDisk(sizeKb: number): TinyDisk | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-tinydisk-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKb}k,mode=0755`, 'tmpfs', dir], { stdio: 'ignore' })
  } catch {
    rmSync(dir, { recursive: true, force: true })
    return undefined
  }
  const filler = join(dir, 'filler')
  return {
    dir,
    fill() {
      const fd = openSync(filler, 'a')
      const chunk = Buffer.alloc(4096, 0x2e)
      try {
        for (;;) writeSync(fd, chunk)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
      }
      // Page-sized chunks leave a partial page: take the last bytes one at a time.
      try {
        for (;;) writeSync(fd, chunk, 0, 1)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
      } finally {
        closeSync(fd)
      }
    },
    free() {
      rmSync(filler, { force: true })
    },
    unmount() {
      try {
        execFileSync('umount', ['-l', dir], { stdio: 'ignore' })
      } catch {
        // Already unmounted.
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
