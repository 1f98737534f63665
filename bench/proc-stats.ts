import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

/**
 * CPU and memory of a server process from /proc (issue 5: "µs of CPU per message and per
 * connection, from /proc"). utime + stime are fields 14 and 15 of /proc/<pid>/stat, in clock
 * ticks; they include every thread of the process. The comm field may hold spaces and
 * parentheses, so fields are counted after the last `)`.
 */
let ticksPerSecond: number | undefined

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      ticksPerSecond = 100
    }
  }
  return ticksPerSecond
}

/** CPU time (user + system) the process has used so far, in µs. */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // After ")": state is field 3, so utime (14) and stime (15) are at indexes 11 and 12.
  const ticks = Number(fields[11]) + Number(fields[12])
  return (ticks * 1e6) / clockTicks()
}

/** Resident set size in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status)
  return match === null ? 0 : Number(match[1]) * 1024
}

/** CPU used by a set of processes between start() and stop(), with the wall time. */
export class CpuWindow {
  private readonly startCpu: number[]
  private readonly startWall = process.hrtime.bigint()

  constructor(private readonly pids: readonly number[]) {
    this.startCpu = pids.map(cpuMicros)
  }

  stop(): { cpuMicros: number; wallMicros: number } {
    const cpu = this.pids.reduce((sum, pid, i) => sum + cpuMicros(pid) - (this.startCpu[i] ?? 0), 0)
    return { cpuMicros: cpu, wallMicros: Number(process.hrtime.bigint() - this.startWall) / 1000 }
  }
}

/** The CPUs a process may run on, as `taskset -p` prints them (e.g. "0" or "0,1"). */
export function affinityOf(pid: number): string {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return /^Cpus_allowed_list:\s+(\S+)$/m.exec(status)?.[1] ?? '?'
}

/**
 * CPU time every core of the machine has been busy so far (user, nice, system, irq, softirq,
 * steal from the `cpu` line of /proc/stat), in µs: over a window, minus what the bench's own
 * processes used, it is how busy the shared machine was with other people's work.
 */
export function machineBusyMicros(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? ''
  const f = line.trim().split(/\s+/).slice(1).map(Number)
  const ticks = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0)
  return (ticks * 1e6) / clockTicks()
}

/** Sockets in TIME_WAIT on the machine (/proc/net/sockstat `tw`): a storm's retries need free ports. */
export function timeWaitSockets(): number {
  const m = /^TCP:.*\btw (\d+)/m.exec(readFileSync('/proc/net/sockstat', 'utf8'))
  return m === null ? 0 : Number(m[1])
}
