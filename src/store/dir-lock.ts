/**
 * The embedded store's exclusive lock on its data directory (DESIGN §4: "a second process is
 * refused at start with STORE_LOCKED naming the holder's pid"). Two processes appending to one log
 * would each replay only their own writes and silently diverge (split brain).
 *
 *   dataDir/LOCK -> "4211:98123:9f3c…"      a symbolic link: pid, process start time, token
 *
 * Why a symlink: symlink(2) creates the name and its content in one atomic step and fails with
 * EEXIST when LOCK exists, so a lock is never seen half-written; and a short target lives in the
 * inode, so the lock can be taken on a full disk (the store then starts read-only, below). Emacs
 * lock files use the same trick.
 *
 * A LOCK whose pid is dead, or alive but started at another time (the pid was reused: proc(5)
 * /proc/<pid>/stat field 22), is stale: it is moved aside with rename(2) — atomic, so exactly one
 * contender gets that link — and removed when it is still the stale one we read; then we try again.
 * If what we moved was a fresh lock another contender had just taken, it is put back and we yield.
 * Residual race: a third process starting during that put-back; it needs three starts at once on
 * a directory whose holder just died.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { readlink, rename, rm, symlink } from 'node:fs/promises'
import { join } from 'node:path'
import { PortcullisError } from '../errors'

export const LOCK_FILE = 'LOCK'

interface LockContent {
  pid: number
  start: string
  token: string
  raw: string
}

export interface DirLock {
  readonly path: string
  /** Removes LOCK if it is still ours. Idempotent. */
  release(): Promise<void>
}

/** Takes the lock or throws STORE_LOCKED naming the holder; other errors (EROFS…) are thrown as they are. */
export async function acquireDirLock(dir: string): Promise<DirLock> {
  const path = join(dir, LOCK_FILE)
  const target = `${process.pid}:${startTimeOf(process.pid) ?? '-'}:${randomBytes(8).toString('hex')}`
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await symlink(target, path)
      return ownLock(path, target)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const holder = await readLock(path)
    if (holder === undefined) continue // removed meanwhile: try again
    if (isAlive(holder)) throw lockedBy(dir, holder.pid)
    await removeStale(path, holder, dir)
  }
  throw new PortcullisError('STORE_LOCKED', `the data directory ${dir} is locked and the lock could not be taken`)
}

function ownLock(path: string, target: string): DirLock {
  let released = false
  return {
    path,
    async release() {
      if (released) return
      released = true
      if ((await readLock(path))?.raw === target) await rm(path, { force: true })
    },
  }
}

/** Moves the stale LOCK aside; if what was moved is not the stale lock we read, puts it back. */
async function removeStale(path: string, stale: LockContent, dir: string): Promise<void> {
  const aside = `${path}.stale.${process.pid}.${randomBytes(4).toString('hex')}`
  try {
    await rename(path, aside)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return // another contender moved it
    throw err
  }
  const moved = await readLock(aside)
  if (moved === undefined || moved.raw === stale.raw) {
    await rm(aside, { force: true })
    return
  }
  // We moved a fresh lock another contender had just taken: put it back (symlink, so that a LOCK
  // made meanwhile is not overwritten) and yield to it.
  await symlink(moved.raw, path).catch(() => undefined)
  await rm(aside, { force: true })
  throw lockedBy(dir, moved.pid)
}

async function readLock(path: string): Promise<LockContent | undefined> {
  let raw: string
  try {
    raw = await readlink(path)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return undefined
    // EINVAL: LOCK is not a symlink (made by hand or by another tool): stale, with no pid of ours.
    if (code === 'EINVAL') return { pid: 0, start: '-', token: '', raw: '' }
    throw err
  }
  const [pid, start, token] = raw.split(':')
  return { pid: Number(pid), start: start ?? '-', token: token ?? '', raw }
}

function isAlive(holder: LockContent): boolean {
  if (!Number.isInteger(holder.pid) || holder.pid <= 0) return false
  try {
    process.kill(holder.pid, 0)
  } catch (err) {
    // EPERM: the pid exists but belongs to another user — alive as far as we can tell.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  if (holder.start === '-') return true
  const now = startTimeOf(holder.pid)
  return now === undefined || now === holder.start
}

/** The process's start time in clock ticks since boot (proc(5) /proc/<pid>/stat field 22), on Linux. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // comm (field 2) is in parentheses and may hold spaces: fields after the last ')' start at 3.
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
    return start !== undefined && /^\d+$/.test(start) ? start : undefined
  } catch {
    return undefined
  }
}

function lockedBy(dir: string, pid: number): PortcullisError {
  return new PortcullisError('STORE_LOCKED', `the data directory ${dir} is in use by process ${pid} (lock file ${join(dir, LOCK_FILE)})`)
}
