/**
 * A TCP relay to the real Redis that a test can kill and restart on the same port: a network
 * partition between one gateway (or store) and Redis, healed later. `socat` forks a child per
 * connection; it runs detached, so killing its process group cuts every relayed connection at once
 * (the kernel closes their sockets), as a partition that ends in resets would.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { DEFAULT_PORTS, portOpen, unusedPort } from './services'

export interface SocatRelay {
  readonly port: number
  readonly url: string
  /** Kills the relay and every connection through it; resolves once it has exited. Idempotent. */
  kill(): Promise<void>
  /** Starts it again on the same port (if it is not running); resolves once it accepts connections. */
  restart(): Promise<void>
}

export async function startSocatRelay(target = DEFAULT_PORTS.redis): Promise<SocatRelay> {
  const port = await unusedPort()
  let child: ChildProcess | undefined

  const running = (): boolean => child !== undefined && child.exitCode === null && child.signalCode === null

  const start = async (): Promise<void> => {
    if (running()) return
    const spawned = spawn('socat', [`TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr`, `TCP:127.0.0.1:${target}`], {
      detached: true, stdio: 'ignore',
    })
    child = spawned
    const exited = new Promise<never>((_resolve, reject) => {
      spawned.once('exit', (code) => reject(new Error(`socat exited with ${code} before it listened on ${port}`)))
      spawned.once('error', reject)
    })
    exited.catch(() => undefined)
    const deadline = Date.now() + 5_000
    while (!(await Promise.race([portOpen(port), exited]))) {
      if (Date.now() > deadline) throw new Error(`socat did not listen on ${port} within 5 s`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  const kill = async (): Promise<void> => {
    const victim = child
    if (!running() || victim?.pid === undefined) return
    child = undefined
    const exited = new Promise<void>((resolve) => victim.once('exit', () => resolve()))
    try {
      process.kill(-victim.pid, 'SIGKILL') // the whole group: socat and its per-connection children
    } catch {
      victim.kill('SIGKILL')
    }
    await exited
  }

  await start()
  return { port, url: `redis://127.0.0.1:${port}`, kill, restart: start }
}
