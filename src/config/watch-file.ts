import { createHash } from 'node:crypto'
import { readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs'

/**
 * `reload.watchFile`: calls `onChange` when the config file's content changes. Polled (every 2 s)
 * rather than inotify because a Kubernetes ConfigMap volume replaces the file through a symlink
 * swap, which an inotify watch on the old inode never sees; stat follows the link. A change of
 * mtime alone (the same bytes written again) is not a change. Answers the unwatch function.
 */
export function watchConfigFile(file: string, onChange: () => void, intervalMs = 2000): () => void {
  let last = digest(file)
  const listener = (current: Stats, previous: Stats): void => {
    if (current.mtimeMs === previous.mtimeMs && current.ino === previous.ino && current.size === previous.size) return
    const now = digest(file)
    if (now === undefined || now === last) return
    last = now
    onChange()
  }
  watchFile(file, { interval: intervalMs, persistent: false }, listener)
  return () => unwatchFile(file, listener)
}

/** Undefined while the file cannot be read (mid-swap): the next poll looks again. */
function digest(file: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex')
  } catch {
    return undefined
  }
}
