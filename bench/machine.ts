import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { cpus, release, totalmem } from 'node:os'

/** What the run happened on, printed above the table and kept in the JSON. */
export interface Machine {
  cpus: number
  cpuModel: string
  memoryGiB: number
  kernel: string
  node: string
  mosquitto?: string
  haproxy?: string
}

export function describeMachine(haproxy: string | undefined): Machine {
  const list = cpus()
  const mosquitto = firstLine('mosquitto', ['-h'])
  return {
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? '?',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    ...(mosquitto !== undefined ? { mosquitto } : {}),
    ...(haproxy !== undefined ? { haproxy } : {}),
  }
}

function firstLine(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0]?.trim()
  } catch (err) {
    // `mosquitto -h` exits 3 after printing its usage.
    const out = (err as { stdout?: string }).stdout
    return typeof out === 'string' && out !== '' ? out.split('\n')[0]?.trim() : undefined
  }
}

export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** The soft RLIMIT_NOFILE the bench and its children run with. */
export function openFileLimit(): { soft: number; hard: number } {
  const line = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
  const num = (s: string | undefined): number => (s === undefined || s === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(s))
  return { soft: num(line?.[1]), hard: num(line?.[2]) }
}

export function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port }, () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
    s.setTimeout(2000, () => {
      s.destroy()
      resolve(false)
    })
  })
}

/** Pins this process and every thread it has to `cpu`; children forked later inherit it. */
export function pinSelf(cpu: number): void {
  execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(process.pid)], { stdio: 'ignore' })
}
